using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// BF16 GEMMs on copies (TensorCoreGemmKernels.Copies.cs) whose tiles reach shared memory through cp.async, in a ring of
// PipelineStages stages: while a tile's products run, the next PipelineStages − 1 tiles are in flight, where the kernels
// that stage through registers have one. A copy's group of eight is 16 bytes in global and in shared memory alike, so a
// thread's share of a tile is four cp.async (two groups of each operand), and a group at an edge is cp.async's zero fill.
// No registers hold a tile on its way, and the loop has one barrier a tile. Each thread commits one group of copies per
// tile (an empty one past the last), so "all but the newest PipelineStages − 2 groups landed" means "this tile landed".
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

        // Global index of element 0 of the next tile to queue, and the stage it goes to (in words).
        long nextA = copyA.First, nextB = copyB.First;
        int queued = 0;
        for (int tile = 0; tile < PipelineStages - 1; tile++)
        {
            if (tile < tiles)
            {
                queueA.Queue(shared, queued, nextA, tile << 5);
                queueB.Queue(shared, queued, nextB, tile << 5);
                nextA += copyA.TileStep;
                nextB += copyB.TileStep;
            }
            Commit();
            queued += StageFloats;
        }
        var w = default(WarpAccumulators);
        int stage = 0;
        for (int tile = 0; tile < tiles; tile++)
        {
            WaitForAllBut(PipelineStages - 2);
            Group.Barrier();
            int ahead = tile + PipelineStages - 1;
            if (ahead < tiles)
            {
                queueA.Queue(shared, queued, nextA, ahead << 5);
                queueB.Queue(shared, queued, nextB, ahead << 5);
                nextA += copyA.TileStep;
                nextB += copyB.TileStep;
            }
            Commit();
            queued = NextStage(queued);
            w = Products<Bf16CopyProducts>(w, shared, stage, 0, fragments, warpRow, warpCol, lane, aK, bK, true);
            int step = NextStage(stage) - stage;
            stage += step;
            fragments = fragments.Moved(step);
        }
        StoreResults<Unbatched>(bias, c, activation, g, rowBase + warpRow, colBase + warpCol, lane, w);
    }

    /// <summary>The word where the stage after the one at word <paramref name="stage"/> begins, round the ring.</summary>
    private static int NextStage(int stage) => stage == (PipelineStages - 1) * StageFloats ? 0 : stage + StageFloats;

    private static void Commit()
    {
        if (CudaAsm.IsSupported) AsyncCopies.Commit();
    }

    private static void WaitForAllBut(int newest)
    {
        if (CudaAsm.IsSupported) AsyncCopies.WaitForAllBut(newest);
    }

    /// <summary>
    /// One operand's share of the tiles for one thread: its two groups of a copy's tile (see <see cref="LoadCopy"/>) queued
    /// to their places in a stage (see <see cref="StoreCopy"/>) by cp.async from <paramref name="address"/>, the global
    /// address of the copy's first element, or copied at once where there is no cp.async.
    /// </summary>
    private readonly struct TileQueue(ArrayView<float> x, long address, OperandCopy copy, bool kContiguous, int operand,
        uint sharedBase)
    {
        /// <summary>
        /// Queues the groups of the tile that starts <paramref name="tileK"/> into the split, element 0 at (element) index
        /// <paramref name="first"/>, to the stage at word <paramref name="stage"/>; 0 for a group past the operand's lines or
        /// the split's k. A group lies wholly inside a line of the copy or wholly outside (<see cref="CopyAlignment"/>).
        /// </summary>
        public void Queue(ArrayView<float> shared, int stage, long first, int tileK)
        {
            int word = stage + operand + copy.Shared, n = GroupLength(true);
            Group(shared, word, first, Inside(0, tileK));
            Group(shared, word + SecondGroupWords(kContiguous, true), first + copy.GroupStep, Inside(n, tileK));
        }

        private bool Inside(int i, int tileK) =>
            LineOffset(i, kContiguous, true) < copy.LinesLeft && tileK + KOffset(i, kContiguous, true) < copy.KLeft;

        /// <summary>The group that starts at element <paramref name="element"/> of the copy, to word <paramref name="word"/>.</summary>
        private void Group(ArrayView<float> shared, int word, long element, bool inside)
        {
            if (CudaAsm.IsSupported)
            {
                // two bytes an element; a group outside names the copy's start, which cp.async then does not read
                AsyncCopies.Copy16(sharedBase + 4u * (uint)word, inside ? address + 2 * element : address, inside);
                return;
            }
            shared.SubView(word, 4).Cast<Quad>().AsAligned(16)[0] =
                inside ? x.SubView(element >> 1, 4).Cast<Quad>().AsAligned(16)[0] : default;
        }
    }
}
