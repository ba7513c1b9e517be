using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// The BF16 forward of heads of 64 with its K and V tiles copied by cp.async (AsyncCopies): while a warp multiplies key tile
// t, tile t + 1 is on its way, as fp32 in a landing area that skips the registers; the block then packs it into the BF16
// pair rows Forward stages (the same words, so the results are Forward's bit for bit), shared memory to shared memory.
// Forward stages each tile from global memory between two barriers, and a block waits for those loads with nothing to
// multiply. CUDA loads this kernel from rewritten PTX (PtxRewrite.SlotsInRegisters), as the pipelined GEMMs: with cp.async in it,
// ptxas would keep ILGPU's inline-PTX operand slots in local memory. The emulating CPU accelerator copies at once.
internal static partial class TensorCoreAttentionBf16Kernels
{
    /// <summary>Floats of a landing tile: 64 keys × 64 columns, fp32, rows 64 floats apart (16 pieces of 16 bytes).</summary>
    private const int LandingFloats = TileK * HeadWidth;

    /// <summary>
    /// Where the landing tiles lie: K's below the K and V pair rows (which hold Q's pair rows until the first tile), V's
    /// after them.
    /// </summary>
    private const int LandingK = 0, LandingV = SharedFloats;

    /// <summary>Floats of dynamic shared memory a <see cref="ForwardPipelined"/> launch needs (52 KB: the GPU must opt in).</summary>
    public const int PipelinedSharedFloats = LandingV + LandingFloats;

    /// <summary>
    /// <see cref="Forward"/> for a head of 64 whose rows start on 16 bytes (<see cref="AttentionArguments.VectorRows"/>), K
    /// and V copied from <see cref="AttentionArguments.KAddress"/> and <see cref="AttentionArguments.VAddress"/> by cp.async a
    /// tile ahead. Grid and threads as <see cref="Forward"/>'s; <see cref="PipelinedSharedFloats"/> of shared memory.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = 2, AsyncCopies = true)]
    public static void ForwardPipelined(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int thread = Group.IdxX, lane = thread & (Mma.WarpLanes - 1), warp = thread >> 5;
        var matrices = new LaneMatrices(lane);
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * TileQ;
        int kv = b * a.KvBatchStride + h * a.KvHeadStride, keyEnd = OnlineSoftmax.KeyEnd(a, q0, TileQ);
        var copies = new KeyTileCopies(k, v, a, kv, thread, matrices.SharedBase);
        copies.Queue(shared, a, 0);
        AsyncCopies.Commit();
        // Q's pair rows where the first tile's K and V pair rows go: they are in registers before the tile is packed there.
        if (q0 + TileQ <= a.Queries)
            Bf16Fragments.StageWholeRows(shared, KOffset, Stride, q, b * a.QBatchStride + h * HeadWidth, a.QRowStride, q0, TileQ,
                Threads, HeadWidth);
        else
            Bf16Fragments.StageRows(shared, KOffset, Stride, q, b * a.QBatchStride + h * HeadWidth, a.QRowStride, q0, TileQ,
                a.Queries, Threads);
        int warpQuery = q0 + warp * 16, query = warpQuery + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        Group.Barrier();
        var queries = Bf16Fragments.LoadRows64(shared, KOffset + warp * 16 * Stride, Stride, matrices);

        var o = default(Fragments8);
        var softmax = OnlineSoftmax.Start(a.Scale);
        int k0 = 0; // the loops take at least one tile (a block's first query sees key 0); the last queues nothing
        for (int visibleEnd = OnlineSoftmax.VisibleEnd(a, q0, TileQ, TileK); k0 < visibleEnd; k0 += TileK)
        {
            Land(shared, copies, a, k0, keyEnd, thread);
            Attend(ref o, ref softmax, queries, shared, a, query, k0, HeadWidth, visible: true, matrices);
        }
        for (; k0 < keyEnd; k0 += TileK)
        {
            Land(shared, copies, a, k0, keyEnd, thread);
            if (warpQuery < a.Queries && k0 < OnlineSoftmax.KeyEnd(a, warpQuery, 16))
                Attend(ref o, ref softmax, queries, shared, a, query, k0, HeadWidth, AllVisible(a, warpQuery, 16, k0, TileK),
                    matrices);
        }
        softmax.Finish(o, a, HeadWidth, bh, query, output, logSumExp, lane);
    }

    /// <summary>
    /// Waits for key tile <paramref name="k0"/>'s copies, packs it into the K and V pair rows once every warp is done with
    /// the tile before (and with Q's rows), and queues the next tile of the launch's keys into the landing area it leaves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Land(ArrayView<float> shared, in KeyTileCopies copies, in AttentionArguments a, int k0, int keyEnd,
        int thread)
    {
        AsyncCopies.WaitForAllBut(0);
        Group.Barrier();
        PackLandedTile(shared, thread);
        Group.Barrier();
        if (k0 + TileK < keyEnd) copies.Queue(shared, a, k0 + TileK);
        AsyncCopies.Commit();
    }

    /// <summary>
    /// The landed tile as <see cref="Forward"/> stages it: K as pair rows along the head (a thread's four 16-byte pieces to
    /// two words each), V transposed as pairs along the keys (a thread's four rows of one column quad to two words of each
    /// of its four columns, as <see cref="Bf16Fragments.StageWholeColumns"/>). K's reads and every 8-byte store of a
    /// quarter- or half-warp touch distinct banks; V's reads meet in pairs (<see cref="KeyTileCopies"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackLandedTile(ArrayView<float> shared, int thread)
    {
        // ILGPU keeps a loop of four as a loop: each piece is a call of its own.
        int first = (thread >> 4) * Stride + 2 * (thread & 15); // the thread's first pair of words, to the K pair rows' end
        var landingK = shared.SubView(LandingK + 4 * thread, LandingFloats - 4 * thread).Cast<Quad>().AsAligned(16);
        var kRows = shared.SubView(KOffset + first, TileK * Stride - first).Cast<Bf16Fragments.WordPair>().AsAligned(8);
        PackKeyPiece(landingK, kRows, 0);
        PackKeyPiece(landingK, kRows, 1);
        PackKeyPiece(landingK, kRows, 2);
        PackKeyPiece(landingK, kRows, 3);
        int group = thread & 15, columns = thread >> 4; // rows 4·group.., columns 4·columns..
        var landingV = shared.SubView(LandingV, LandingFloats).Cast<Quad>().AsAligned(16);
        int at = 4 * group * 16 + (columns ^ (group & 3));
        Quad r0 = landingV[at], r1 = landingV[at + 16], r2 = landingV[at + 32], r3 = landingV[at + 48];
        var vColumns = shared.SubView(VOffset + 4 * columns * Stride + 2 * group, 3 * Stride + 2)
            .Cast<Bf16Fragments.WordPair>().AsAligned(8);
        vColumns[0] = new Bf16Fragments.WordPair(Bf16Fragments.Pack(r0.X, r1.X), Bf16Fragments.Pack(r2.X, r3.X));
        vColumns[Stride / 2] = new Bf16Fragments.WordPair(Bf16Fragments.Pack(r0.Y, r1.Y), Bf16Fragments.Pack(r2.Y, r3.Y));
        vColumns[Stride] = new Bf16Fragments.WordPair(Bf16Fragments.Pack(r0.Z, r1.Z), Bf16Fragments.Pack(r2.Z, r3.Z));
        vColumns[3 * Stride / 2] = new Bf16Fragments.WordPair(Bf16Fragments.Pack(r0.W, r1.W), Bf16Fragments.Pack(r2.W, r3.W));
    }

    /// <summary>
    /// The thread's landed K piece <paramref name="i"/> (piece thread + 256·i: 16 rows further per i) as its two pair words.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackKeyPiece(ArrayView<Quad> landing, ArrayView<Bf16Fragments.WordPair> rows, int i)
    {
        var x = landing[i * Threads];
        rows[i * (Threads / 16) * Stride / 2] = new Bf16Fragments.WordPair(Bf16Fragments.Pack(x.X, x.Y), Bf16Fragments.Pack(x.Z, x.W));
    }

    /// <summary>
    /// One thread's share of a key tile's copies: pieces thread + 256·i (i &lt; 4) of K's and of V's 64 rows × 16 pieces of
    /// 16 bytes, row piece / 16, to the landing tiles; a row past the keys is cp.async's zero fill (which reads nothing), so
    /// it packs to zero words, as <see cref="Forward"/> stages them. V's piece p of row r lands at quad p ⊕ ((r / 4) mod 4)
    /// of its row: the packing's eight lanes that read four rows of one column quad each meet in pairs on a bank, where
    /// unswizzled they would all meet; a swizzle of (r / 4) mod 8 would part them but differ between a thread's rows,
    /// costing registers. The loop carries few registers (the kernel is held at 128): pieces are named by byte addresses
    /// (global ones from <see cref="AttentionArguments.KAddress"/> on CUDA; off CUDA, where the addresses are 0, offsets
    /// into the views), V's global one found from K's and the launch's constants.
    /// </summary>
    private readonly struct KeyTileCopies
    {
        private readonly ArrayView<float> _k, _v;
        private readonly long _kFirst;                 // the thread's K piece of key tile 0, row thread / 16
        private readonly uint _kLanding, _vLanding;    // its shared addresses, and its V piece's
        private readonly int _keysLeft;                // keys from the thread's row on

        /// <param name="sharedBase">The shared-window address of the dynamic shared memory (0 where there is no cp.async).</param>
        public KeyTileCopies(ArrayView<float> k, ArrayView<float> v, in AttentionArguments a, int kv, int thread, uint sharedBase)
        {
            int row = thread >> 4, quad = thread & 15;
            (_k, _v, _kFirst) = (k, v, a.KAddress + 4L * (kv + row * a.KvRowStride + 4 * quad));
            _kLanding = sharedBase + 4u * (uint)(LandingK + row * HeadWidth + 4 * quad);
            _vLanding = sharedBase + 4u * (uint)(LandingV + row * HeadWidth + 4 * (quad ^ ((row >> 2) & 3)));
            _keysLeft = a.Keys - row;
        }

        /// <summary>Queues this thread's pieces of the tile of keys <paramref name="k0"/>.. to the landing tiles.</summary>
        public void Queue(ArrayView<float> shared, in AttentionArguments a, int k0)
        {
            // ILGPU keeps a loop of four as a loop: each row is a call of its own.
            QueueRow(shared, a, k0, 0);
            QueueRow(shared, a, k0, 1);
            QueueRow(shared, a, k0, 2);
            QueueRow(shared, a, k0, 3);
        }

        /// <summary>The thread's K and V pieces 16·<paramref name="i"/> rows on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void QueueRow(ArrayView<float> shared, in AttentionArguments a, int k0, int i)
        {
            int key = k0 + 16 * i;
            bool inside = key < _keysLeft;
            long source = _kFirst + 4L * key * a.KvRowStride;
            uint rows = (uint)(i * 16 * HeadWidth * 4);
            AsyncCopies.Queue16(shared, _k, _kLanding + rows, source, inside);
            AsyncCopies.Queue16(shared, _v, _vLanding + rows, source + (a.VAddress - a.KAddress), inside);
        }
    }
}
