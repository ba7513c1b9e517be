using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// BF16 GEMMs on copies (TensorCoreGemmKernels.Copies.cs) whose tiles reach shared memory through cp.async, in a ring of
// PipelineStages stages: while a tile's products run, the next PipelineStages − 1 tiles are in flight, where the kernels
// that stage through registers have one. A copy's group of eight is 16 bytes in global and in shared memory alike, so a
// thread's share of a tile is four cp.async (two groups of each operand), and a group at an edge is cp.async's zero fill.
// No registers hold a tile on its way, and the loop has one barrier a tile. Each thread commits one group of copies per
// tile (zero fills past the last), so "all but the newest PipelineStages − 2 groups landed" means "this tile landed".
// CUDA loads these kernels from rewritten PTX (RewrittenKernels): with cp.async in it, ptxas would keep ILGPU's operand
// slots in local memory. The emulating CPU accelerator copies each group at once, which a barrier then orders as it
// orders cp.async's.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Stages of the pipelined kernels' ring: a tile multiplied while the next PipelineStages − 1 are in flight.</summary>
    public const int PipelineStages = 4;

    /// <summary>Floats of dynamic shared memory a pipelined launch needs: <see cref="PipelineStages"/> stages (80 KB).</summary>
    public const int PipelinedSharedFloats = PipelineStages * StageFloats;

    /// <summary>BF16 on copies through cp.async, op(a) k-contiguous, op(b) k-contiguous (c = a·bᵀ).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16PipelinedABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<KContiguous, KContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies through cp.async, op(a) k-contiguous, op(b) column-contiguous (c = a·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16PipelinedAB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<KContiguous, LineContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies through cp.async, op(a) row-contiguous, op(b) column-contiguous (c = aᵀ·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16PipelinedAtB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<LineContiguous, LineContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies through cp.async, op(a) row-contiguous, op(b) k-contiguous (aᵀ·b when b has one column).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16PipelinedAtBt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<LineContiguous, KContiguous>(a, b, bias, c, activation, g);

    /// <summary>
    /// The pipelined product: the first <see cref="PipelineStages"/> − 1 tiles queued, then for each tile a wait for its
    /// copies, one barrier (its copies visible to every warp, and every warp done with the stage the next queue overwrites,
    /// the one multiplied last), the queue of the tile <see cref="PipelineStages"/> − 1 ahead, and this tile's products.
    /// A tile past the split's k is queued as any other: its groups lie past the k edge, so they are zero fills of a
    /// stage that is never multiplied, and the loop has no branch around its queue.
    /// </summary>
    private static void RunPipelined<TA, TB>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, in TensorCoreGemmArguments g)
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout
    {
        bool aK = default(TA).KIsContiguous, bK = default(TB).KIsContiguous;
        var shared = SharedMemory.GetDynamic<float>();
        int thread = Group.IdxX, lane = thread & (Mma.WarpLanes - 1), warp = thread >> 5;
        int warpRow = (warp >> 2) * WarpTileM, warpCol = (warp & (WarpsN - 1)) * WarpTileN;
        int rowBase = Grid.IdxY * TileM, colBase = Grid.IdxX * TileN;
        int kBegin = Grid.IdxZ * g.KPerSplit, kEnd = XMin(g.K, kBegin + g.KPerSplit);
        int tiles = (kEnd - kBegin + TileK(true) - 1) >> 5;
        var lanes = new LaneMatrices(lane);
        var copyA = new OperandCopy(thread, aK, true, 1, g.M, g.ARowStride, g.AKStride, rowBase, kBegin, kEnd);
        var copyB = new OperandCopy(thread, bK, true, 1, g.N, g.BColStride, g.BKStride, colBase, kBegin, kEnd);
        var queueA = new TileQueue(a, g.AAddress, copyA, aK, 0, lanes.SharedBase);
        var queueB = new TileQueue(b, g.BAddress, copyB, bK, OperandFloats, lanes.SharedBase);
        var fragments = new FragmentPlaces(
            StageWord(warpRow + Mma.BColumn(lane), Mma.Tf32BK(lane, 0), aK, true),
            OperandFloats + StageWord(warpCol + Mma.BColumn(lane), Mma.Tf32BK(lane, 0), bK, true),
            MatrixWord(lanes, warpRow, aK, true, false), OperandFloats + MatrixWord(lanes, warpCol, bK, true, true),
            lanes.SharedBase);

        // The address of the thread's first group of the next tile to queue, its k and the stage it goes to (in words).
        long nextA = queueA.First, nextB = queueB.First;
        int queuedK = 0, queued = 0;
        for (int tile = 0; tile < PipelineStages - 1; tile++)
        {
            queueA.Queue(shared, queued, nextA, queuedK);
            queueB.Queue(shared, queued, nextB, queuedK);
            (nextA, nextB, queuedK) = (nextA + queueA.TileBytes, nextB + queueB.TileBytes, queuedK + TileK(true));
            AsyncCopies.Commit();
            queued += StageFloats;
        }
        var w = default(WarpAccumulators);
        int stage = 0;
        // Counted down from tiles: counted up to it, ILGPU placed tiles' computation inside the loop, 5 instructions a tile.
        for (int left = tiles; left > 0; left--)
        {
            AsyncCopies.WaitForAllBut(PipelineStages - 2);
            Group.Barrier();
            queueA.Queue(shared, queued, nextA, queuedK);
            queueB.Queue(shared, queued, nextB, queuedK);
            (nextA, nextB, queuedK) = (nextA + queueA.TileBytes, nextB + queueB.TileBytes, queuedK + TileK(true));
            AsyncCopies.Commit();
            queued = NextStage(queued);
            w = Products<Bf16CopyProducts>(w, shared, stage, 0, fragments, warpRow, warpCol, lane, aK, bK, true);
            int step = NextStage(stage) - stage;
            stage += step;
            fragments = fragments.Moved(step);
        }
        // The zero fills queued past the last tile are still in flight: none outlives the block, whose shared memory the
        // multiprocessor may give to the next block (the epilogue reads registers only, so this costs one wait a block).
        AsyncCopies.WaitForAllBut(0);
        StoreResults<Unbatched>(bias, c, activation, g, rowBase + warpRow, colBase + warpCol, lane, w);
    }

    /// <summary>The word where the stage after the one at word <paramref name="stage"/> begins, round the ring.</summary>
    private static int NextStage(int stage) => stage == (PipelineStages - 1) * StageFloats ? 0 : stage + StageFloats;

    /// <summary>
    /// One operand's share of the tiles for one thread: its two groups of a copy's tile (see <see cref="LoadCopy"/>) queued
    /// to their places in a stage (see <see cref="StoreCopy"/>) by cp.async, or copied at once where there is no cp.async.
    /// Groups are named by their global byte addresses (two bytes an element), which the k loop advances by a tile's bytes;
    /// the copy at once takes its element from the address's distance to the copy's.
    /// </summary>
    private readonly struct TileQueue
    {
        private readonly ArrayView<float> _x;
        private readonly OperandCopy _copy;
        private readonly bool _kContiguous;
        private readonly long _address, _secondBytes;
        private readonly uint _shared, _secondShared;

        /// <param name="address">The global address of the copy's first element.</param>
        /// <param name="operand">The operand's first word in a stage (0 for op(a), <see cref="OperandFloats"/> for op(b)).</param>
        /// <param name="sharedBase">The shared-window address of the dynamic shared memory (0 where there is no cp.async).</param>
        public TileQueue(ArrayView<float> x, long address, in OperandCopy copy, bool kContiguous, int operand, uint sharedBase)
        {
            (_x, _copy, _kContiguous, _address) = (x, copy, kContiguous, address);
            _secondBytes = 2L * copy.GroupStep;
            _shared = sharedBase + 4u * (uint)(operand + copy.Shared);
            _secondShared = 4u * (uint)SecondGroupWords(kContiguous, true);
        }

        /// <summary>The address of this thread's first group in the split's first tile.</summary>
        public long First => _address + 2 * _copy.First;

        /// <summary>Bytes from a tile's group to the next tile's.</summary>
        public long TileBytes => 2 * _copy.TileStep;

        /// <summary>
        /// Queues the groups of the tile that starts <paramref name="tileK"/> into the split, its first group at
        /// <paramref name="source"/>, to the stage at word <paramref name="stage"/>; 0 for a group past the operand's lines
        /// or the split's k. A group lies wholly inside a line of the copy or wholly outside (<see cref="CopyAlignment"/>).
        /// </summary>
        public void Queue(ArrayView<float> shared, int stage, long source, int tileK)
        {
            uint at = _shared + 4u * (uint)stage;
            Group(shared, at, source, Inside(0, tileK));
            Group(shared, at + _secondShared, source + _secondBytes, Inside(GroupLength(true), tileK));
        }

        private bool Inside(int i, int tileK) =>
            LineOffset(i, _kContiguous, true) < _copy.LinesLeft && tileK + KOffset(i, _kContiguous, true) < _copy.KLeft;

        /// <summary>The group at <paramref name="source"/> to shared address <paramref name="at"/>, or 0 there.</summary>
        private void Group(ArrayView<float> shared, uint at, long source, bool inside)
        {
            if (CudaAsm.IsSupported)
            {
                // outside: the copy's own start, which a cp.async of source size 0 does not read
                AsyncCopies.Copy16(at, inside ? source : _address, inside);
                return;
            }
            shared.SubView(at >> 2, 4).Cast<Quad>().AsAligned(16)[0] =
                inside ? _x.SubView((source - _address) >> 2, 4).Cast<Quad>().AsAligned(16)[0] : default;
        }
    }
}
