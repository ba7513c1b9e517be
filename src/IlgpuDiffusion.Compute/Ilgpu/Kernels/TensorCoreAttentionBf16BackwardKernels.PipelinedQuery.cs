using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// The BF16 dq pass of heads of 64 with its key tiles copied by cp.async, as the key pass's query tiles
// (KeyValuePipelined): while the warps multiply key tile t, tile t + 1's dSᵀ pairs and k rows are on their way into a
// landing area; the block then moves the pairs and packs k's rows where Query stages them (the same words, so the same
// results bit for bit). CUDA loads this kernel from rewritten PTX (PtxRewrite.SlotsInRegisters); the emulator copies at once.
internal static partial class TensorCoreAttentionBf16BackwardKernels
{
    /// <summary>Words between a staged tile's dSᵀ rows: the block's 64 queries as 32 pair words, and 4 of padding.</summary>
    private const int ScoreRowStride = BlockRows / 2 + 4;

    /// <summary>Where a key tile's dSᵀ pairs (laid out as staged) and its k rows (fp32, 64 floats apart) land.</summary>
    private const int LandingScores = QuerySharedFloats, LandingKeys = LandingScores + KeyRowsAt;

    /// <summary>Floats of dynamic shared memory a <see cref="QueryPipelined"/> launch needs (21.5 KB).</summary>
    public const int PipelinedQuerySharedFloats = LandingKeys + Tile * HeadWidth;

    /// <summary>
    /// <see cref="Query"/> for a head of 64 whose rows start on 16 bytes (<see cref="AttentionArguments.VectorRows"/>), its key
    /// tiles' dSᵀ and k copied from <see cref="AttentionArguments.ScoreGradientAddress"/> and
    /// <see cref="AttentionArguments.KAddress"/> by cp.async a tile ahead. Grid and threads as <see cref="Query"/>'s;
    /// <see cref="PipelinedQuerySharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = BlockThreads, AsyncCopies = true)]
    public static void QueryPipelined(ArrayView<float> k, ArrayView<float> scoreGradients, ArrayView<float> dq, int firstBatchHead,
        AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tokens = a.Keys, stride = TensorCoreAttentionBackwardKernels.ScoreStride(tokens);
        int thread = Group.IdxX, lane = thread & (Mma.WarpLanes - 1), warp = thread >> 5;
        var matrices = new LaneMatrices(lane);
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * BlockRows;
        int head = b * a.QBatchStride + h * HeadWidth;
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int pitch = stride / 2; // the scratch's words per key
        var copies = new KeyTileCopies(k, scoreGradients, head, Grid.IdxY * stride * pitch + q0 / 2, pitch, matrices.SharedBase);
        copies.Queue(shared, a, 0, thread);
        AsyncCopies.Commit();

        var dqSum = default(Fragments8);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + BlockRows) : tokens;
        for (int k0 = 0; k0 < keyEnd; k0 += Tile) // at least one tile; the last queues nothing
        {
            AsyncCopies.WaitForAllBut(0);
            Group.Barrier(); // every warp done with the tile before
            MoveLandedKeyTile(shared, thread);
            Group.Barrier();
            if (k0 + Tile < keyEnd) copies.Queue(shared, a, k0 + Tile, thread);
            AsyncCopies.Commit();
            AccumulateKeyTile(ref dqSum, shared, 8 * warp, ScoreRowStride, matrices, HeadWidth);
        }
        BackwardFragments.WriteRows(dqSum, a.Scale, dq, a, HeadWidth, head, query, lane);
    }

    /// <summary>
    /// The landed key tile where <see cref="Query"/> stages it: the dSᵀ pairs as they landed (two 16-byte pieces a thread),
    /// k's rows packed to pair rows (four pieces a thread, pieces thread + 128·i, to two words each). A quarter-warp's reads
    /// and stores touch distinct banks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MoveLandedKeyTile(ArrayView<float> shared, int thread)
    {
        int scores = (thread >> 3) * ScoreRowStride + 4 * (thread & 7); // 16 rows of 8 pieces a pass
        var landed = shared.SubView(LandingScores + scores, KeyRowsAt - scores).Cast<Quad>().AsAligned(16);
        var staged = shared.SubView(scores, KeyRowsAt - scores).Cast<Quad>().AsAligned(16);
        int secondPass = 16 * ScoreRowStride / 4;
        (staged[0], staged[secondPass]) = (landed[0], landed[secondPass]);
        int first = (thread >> 4) * RowStride + 2 * (thread & 15); // the thread's first pair of k's words, to the rows' end
        var keys = shared.SubView(LandingKeys + 4 * thread, Tile * HeadWidth - 4 * thread).Cast<Quad>().AsAligned(16);
        var rows = shared.SubView(KeyRowsAt + first, Tile * RowStride - first).Cast<Bf16Fragments.WordPair>().AsAligned(8);
        // ILGPU keeps a loop of four as a loop: each piece is a call of its own.
        PackPiece(keys, rows, 0);
        PackPiece(keys, rows, 1);
        PackPiece(keys, rows, 2);
        PackPiece(keys, rows, 3);
    }

    /// <summary>
    /// One thread's share of a dq pass's key tile copies: pieces thread and thread + 128 of the tile's 32 dSᵀ rows × 8 pieces
    /// (the block's 64 queries as 32 pair words; the scratch holds whole blocks of 64 keys, so none is past it), and pieces
    /// thread + 128·i (i &lt; 4) of k's 32 rows × 16 pieces, a key past the sequence cp.async's zero fill, which packs to the
    /// zero words <see cref="Query"/> stages. Addresses are computed where queued, from the launch's constants (the
    /// emulator's are offsets into the views).
    /// </summary>
    private readonly record struct KeyTileCopies(ArrayView<float> K, ArrayView<float> ScoreGradients, int Head, int Scores,
        int Pitch, uint SharedBase)
    {
        /// <summary>Queues thread <paramref name="thread"/>'s pieces of the tile of keys <paramref name="k0"/>..</summary>
        public void Queue(ArrayView<float> shared, in AttentionArguments a, int k0, int thread)
        {
            int row = thread >> 3, quad = thread & 7;
            uint scores = SharedBase + 4u * (uint)(LandingScores + row * ScoreRowStride + 4 * quad);
            long source = a.ScoreGradientAddress + 4L * (Scores + (k0 + row) * Pitch + 4 * quad);
            AsyncCopies.Queue16(shared, ScoreGradients, scores, source, inside: true);
            AsyncCopies.Queue16(shared, ScoreGradients, scores + 4u * (16 * ScoreRowStride), source + 4L * 16 * Pitch, inside: true);
            // ILGPU keeps a loop of four as a loop: each row is a call of its own.
            QueueKeyRow(shared, a, k0, thread, 0);
            QueueKeyRow(shared, a, k0, thread, 1);
            QueueKeyRow(shared, a, k0, thread, 2);
            QueueKeyRow(shared, a, k0, thread, 3);
        }

        /// <summary>The thread's piece of k 8·<paramref name="i"/> rows on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void QueueKeyRow(ArrayView<float> shared, in AttentionArguments a, int k0, int thread, int i)
        {
            int key = k0 + (thread >> 4) + (BlockThreads / 16) * i;
            uint at = SharedBase + 4u * (uint)(LandingKeys + 4 * thread + i * BlockThreads * 4);
            AsyncCopies.Queue16(shared, K, at, a.KAddress + 4L * (Head + key * a.QRowStride + 4 * (thread & 15)), key < a.Keys);
        }
    }
}
