using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// The BF16 key pass of heads of 64 with its query tiles copied by cp.async (AsyncCopies), as the forward's key tiles
// (TensorCoreAttentionBf16Kernels.ForwardPipelined): while the warps work on query tile t, tile t + 1's Q and dO rows,
// log-sum-exps and D are on their way, as fp32, into a landing area; the block then packs the tile into the pair rows
// KeyValue stages (the same words, so the same results bit for bit). KeyValue stages each tile from global memory
// between two barriers, and a block waits for those loads with nothing to multiply. CUDA loads this kernel from
// rewritten PTX (PtxRewrite.SlotsInRegisters); the emulating CPU accelerator copies at once.
internal static partial class TensorCoreAttentionBf16BackwardKernels
{
    /// <summary>Floats of a landing tile: 32 queries × 64 columns, fp32, rows 64 floats apart (16 pieces of 16 bytes).</summary>
    private const int LandingFloats = Tile * HeadWidth;

    /// <summary>
    /// Where Q's and dO's landing tiles lie, after <see cref="KeyValue"/>'s shared memory, and then the tile's landing
    /// log-sum-exps and D.
    /// </summary>
    private const int LandingQ = SharedFloats, LandingGradients = LandingQ + LandingFloats;
    private const int LandingStatistics = LandingGradients + LandingFloats;

    /// <summary>
    /// Floats of dynamic shared memory a <see cref="KeyValuePipelined"/> launch needs (43.8 KB: four blocks fit an sm_90
    /// multiprocessor, three an sm_80 one).
    /// </summary>
    public const int PipelinedSharedFloats = LandingStatistics + 2 * Tile;

    /// <summary>
    /// <see cref="KeyValue"/> for a head of 64 whose rows (and dO's) start on 16 bytes
    /// (<see cref="AttentionArguments.VectorRows"/>), its query tiles' Q, dO, log-sum-exps and D copied from
    /// <see cref="AttentionArguments.QAddress"/>, <see cref="AttentionArguments.OutputGradientAddress"/>,
    /// <see cref="AttentionArguments.LogSumExpAddress"/> and <see cref="AttentionArguments.RowDotAddress"/> by cp.async a tile
    /// ahead. Grid, threads and launch bounds as <see cref="KeyValue"/>'s; <see cref="PipelinedSharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = BlockThreads, BlocksPerMultiprocessor = 4, AsyncCopies = true)]
    public static void KeyValuePipelined(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tokens = a.Keys, stride = TensorCoreAttentionBackwardKernels.ScoreStride(tokens);
        int thread = Group.IdxX, lane = thread & (Mma.WarpLanes - 1), warp = thread >> 5;
        var matrices = new LaneMatrices(lane);
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, k0 = Grid.IdxX * BlockRows;
        int head = b * a.QBatchStride + h * HeadWidth, outputHead = (b * tokens * a.Heads + h) * HeadWidth;
        int first = a.Causal != 0 ? k0 : 0; // causal: earlier queries see none of these keys
        var copies = new QueryTileCopies(q, dOutput, logSumExp, rowDot, head, outputHead, bh * tokens, matrices.SharedBase);
        copies.Queue(shared, a, first, thread);
        AsyncCopies.Commit();
        StageOwnedRows(shared, k, v, head, a.QRowStride, k0, BlockRows, tokens, BlockThreads, whole: k0 + BlockRows <= tokens);
        int keys = KeysAt + warp * 16 * RowStride, values = ValuesAt + warp * 16 * RowStride; // this warp's 16 rows of each
        var owned = new OwnedRows(keys, matrices.AAddress(keys, RowStride), values, matrices.AAddress(values, RowStride));
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        int pitch = stride / 2, scoreRow = (Grid.IdxY * stride + key) * pitch; // dSᵀ as pairs of queries: words per key

        var dkSum = default(Fragments8);
        var dvSum = default(Fragments8);
        for (int q0 = first; q0 < tokens; q0 += Tile) // at least one tile; the last queues nothing
        {
            AsyncCopies.WaitForAllBut(0);
            Group.Barrier(); // every warp done with the tile before
            PackLandedQueryTile(shared, thread);
            Group.Barrier();
            if (q0 + Tile < tokens) copies.Queue(shared, a, q0 + Tile, thread);
            AsyncCopies.Commit();
            var tile = new KeyTile(a, key, q0, AllVisible(a, q0, Tile, k0 + warp * 16, 16), scoreRow + q0 / 2, pitch);
            AccumulateQueryTile(ref dkSum, ref dvSum, shared, scoreGradients, tile, owned, matrices, HeadWidth);
        }
        BackwardFragments.WriteRows(dkSum, a.Scale, dk, a, HeadWidth, head, key, lane);
        BackwardFragments.WriteRows(dvSum, 1f, dv, a, HeadWidth, head, key, lane);
    }

    /// <summary>
    /// The landed query tile as <see cref="KeyValue"/> stages it: Q and dO as pair rows along the head, each of a thread's
    /// four 16-byte pieces of each to two words (pieces thread + 128·i, i &lt; 4), and the first warp's log-sum-exps in
    /// base 2 and D (a query past the sequence landed as 0, whose shift is 0). A quarter-warp's reads and a half-warp's
    /// 8-byte stores touch distinct banks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackLandedQueryTile(ArrayView<float> shared, int thread)
    {
        if (thread < Tile)
        {
            shared[ShiftsAt + thread] = BackwardFragments.Shift(shared[LandingStatistics + thread]);
            shared[RowDotsAt + thread] = shared[LandingStatistics + Tile + thread];
        }
        int first = (thread >> 4) * RowStride + 2 * (thread & 15); // the thread's first pair of words, to the pair rows' end
        var queries = shared.SubView(LandingQ + 4 * thread, 2 * LandingFloats - 4 * thread).Cast<Quad>().AsAligned(16);
        var rows = shared.SubView(first, GradientsAt + Tile * RowStride - first).Cast<Bf16Fragments.WordPair>().AsAligned(8);
        // ILGPU keeps a loop of four as a loop: each piece is a call of its own.
        PackPiece(queries, rows, 0);
        PackPiece(queries, rows, 1);
        PackPiece(queries, rows, 2);
        PackPiece(queries, rows, 3);
        PackPiece(queries, rows, 4);
        PackPiece(queries, rows, 5);
        PackPiece(queries, rows, 6);
        PackPiece(queries, rows, 7);
    }

    /// <summary>
    /// Piece <paramref name="i"/> of the thread's landed pieces (Q's for i &lt; 4, then dO's; 8 rows further per i) as its
    /// two pair words.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackPiece(ArrayView<Quad> landed, ArrayView<Bf16Fragments.WordPair> rows, int i)
    {
        var x = landed[i * BlockThreads];
        int at = (i >> 2) * GradientsAt / 2 + (i & 3) * (BlockThreads / 16) * RowStride / 2;
        rows[at] = new Bf16Fragments.WordPair(Bf16Fragments.Pack(x.X, x.Y), Bf16Fragments.Pack(x.Z, x.W));
    }

    /// <summary>
    /// One thread's share of a query tile's copies: pieces thread + 128·i (i &lt; 4) of Q's and of dO's 32 rows × 16 pieces of
    /// 16 bytes, row piece / 16, to the landing tiles; a row past the sequence is cp.async's zero fill (which reads nothing),
    /// so it packs to zero words, as <see cref="KeyValue"/> stages it; the first warp's threads also queue their query's
    /// log-sum-exp and D. Global pieces are named by byte addresses (from the launch's on CUDA; off CUDA, where those are 0,
    /// offsets into the views). Every address is computed where it is queued, from the launch's
    /// constants and values the kernel holds anyway: kept from tile to tile, they cost the loop registers it does not have
    /// (the kernel is held at 128; four more spilled).
    /// </summary>
    private readonly record struct QueryTileCopies(ArrayView<float> Q, ArrayView<float> OutputGradient,
        ArrayView<float> LogSumExp, ArrayView<float> RowDot, int Head, int OutputHead, int Statistics, uint SharedBase)
    {
        /// <summary>Queues thread <paramref name="thread"/>'s pieces of the tile of queries <paramref name="q0"/>..</summary>
        public void Queue(ArrayView<float> shared, in AttentionArguments a, int q0, int thread)
        {
            // ILGPU keeps a loop of four as a loop: each row is a call of its own.
            QueueRow(shared, a, q0, thread, 0);
            QueueRow(shared, a, q0, thread, 1);
            QueueRow(shared, a, q0, thread, 2);
            QueueRow(shared, a, q0, thread, 3);
            if (thread >= Tile) return;
            // The first warp's query's log-sum-exp and D: 4 bytes each (a head's rows need not start on 16).
            bool inside = q0 + thread < a.Keys;
            uint at = SharedBase + 4u * (uint)(LandingStatistics + thread);
            int element = Statistics + q0 + thread;
            AsyncCopies.Queue4(shared, LogSumExp, at, a.LogSumExpAddress + 4L * element, inside);
            AsyncCopies.Queue4(shared, RowDot, at + 4u * Tile, a.RowDotAddress + 4L * element, inside);
        }

        /// <summary>The thread's Q and dO pieces 8·<paramref name="i"/> rows on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void QueueRow(ArrayView<float> shared, in AttentionArguments a, int q0, int thread, int i)
        {
            int query = q0 + (thread >> 4) + (BlockThreads / 16) * i, column = 4 * (thread & 15);
            bool inside = query < a.Keys;
            uint at = SharedBase + 4u * (uint)(LandingQ + 4 * thread + i * BlockThreads * 4);
            AsyncCopies.Queue16(shared, Q, at, a.QAddress + 4L * (Head + query * a.QRowStride + column), inside);
            AsyncCopies.Queue16(shared, OutputGradient, at + 4u * LandingFloats,
                a.OutputGradientAddress + 4L * (OutputHead + query * a.Heads * HeadWidth + column), inside);
        }
    }
}
