using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// GEMMs on copies of their operands (BF16: TensorCoreGemmKernels.Copies.cs, TF32: TensorCoreGemmKernels.Tf32Copies.cs)
// whose tiles reach shared memory through cp.async, in a ring of PipelineStages stages: while a tile's products run, the
// next PipelineStages − 1 tiles are in flight, where the kernels that stage through registers have one. A copy holds a
// thread's share of a tile as its stage does, in two 16-byte pieces (a BF16 group of eight, a TF32 group of four), so the
// share is four cp.async (two of each operand), and a piece at an edge is cp.async's zero fill. No registers hold a tile
// on its way, nothing converts it, and the loop has one barrier a tile.
// Each thread commits one group of copies per tile (zero fills past the last), so "all but the newest PipelineStages − 2
// groups landed" means "this tile landed". CUDA loads these kernels from rewritten PTX (PtxRewrite.SlotsInRegisters): with cp.async in
// it, ptxas would keep ILGPU's operand slots in local memory. The emulating CPU accelerator copies each piece at once,
// which a barrier then orders as it orders cp.async's.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Stages of the pipelined kernels' ring: a tile multiplied while the next PipelineStages − 1 are in flight.</summary>
    public const int PipelineStages = 4;

    /// <summary>Floats of dynamic shared memory a pipelined launch needs: <see cref="PipelineStages"/> stages (80 KB).</summary>
    public const int PipelinedSharedFloats = PipelineStages * StageFloats;

    /// <summary>BF16 on copies through cp.async, op(a) k-contiguous, op(b) k-contiguous (c = a·bᵀ).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, AsyncCopies = true)]
    public static void Bf16PipelinedABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<Bf16CopyProducts, KContiguous, KContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies through cp.async, op(a) k-contiguous, op(b) column-contiguous (c = a·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, AsyncCopies = true)]
    public static void Bf16PipelinedAB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<Bf16CopyProducts, KContiguous, LineContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies through cp.async, op(a) row-contiguous, op(b) column-contiguous (c = aᵀ·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, AsyncCopies = true)]
    public static void Bf16PipelinedAtB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<Bf16CopyProducts, LineContiguous, LineContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies through cp.async, op(a) row-contiguous, op(b) k-contiguous (aᵀ·b when b has one column).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, AsyncCopies = true)]
    public static void Bf16PipelinedAtBt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<Bf16CopyProducts, LineContiguous, KContiguous>(a, b, bias, c, activation, g);

    /// <summary>
    /// TF32 on copies through cp.async, both k-contiguous (c = a·bᵀ): every TF32 product on copies, whose copies are all
    /// k-contiguous (<see cref="CopyTf32"/>).
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, AsyncCopies = true)]
    public static void Tf32PipelinedABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunPipelined<Tf32Products, KContiguous, KContiguous>(a, b, bias, c, activation, g);

    /// <summary>
    /// The pipelined product: the first <see cref="PipelineStages"/> − 1 tiles queued, then for each tile a wait for its
    /// copies, one barrier (its copies visible to every warp, and every warp done with the stage the next queue overwrites,
    /// the one multiplied last), the queue of the tile <see cref="PipelineStages"/> − 1 ahead, and this tile's products.
    /// A tile past the split's k is queued as any other: its pieces lie past the k edge, so they are zero fills of a
    /// stage that is never multiplied, and the loop has no branch around its queue.
    /// </summary>
    private static void RunPipelined<TProducts, TA, TB>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias,
        ArrayView<float> c, ArrayView<float> activation, in TensorCoreGemmArguments g)
        where TProducts : struct, IProducts
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout
    {
        bool aK = default(TA).KIsContiguous, bK = default(TB).KIsContiguous, bf16 = default(TProducts).Bf16;
        var shared = SharedMemory.GetDynamic<float>();
        int thread = Group.IdxX, lane = thread & (Mma.WarpLanes - 1), warp = thread >> 5;
        int warpRow = (warp >> 2) * WarpTileM, warpCol = (warp & (WarpsN - 1)) * WarpTileN;
        int rowBase = Grid.IdxY * TileM, colBase = Grid.IdxX * TileN;
        int kBegin = Grid.IdxZ * g.KPerSplit, kEnd = XMin(g.K, kBegin + g.KPerSplit);
        int tiles = (kEnd - kBegin + TileK(bf16) - 1) >> (bf16 ? 5 : 4);
        var lanes = new LaneMatrices(lane);
        var queueA = new TileQueue(a, g.AAddress, new OperandShare(thread, aK, bf16, g.M, g.ARowStride, g.AKStride, rowBase),
            kBegin, kEnd, 0, lanes.SharedBase);
        var queueB = new TileQueue(b, g.BAddress, new OperandShare(thread, bK, bf16, g.N, g.BColStride, g.BKStride, colBase),
            kBegin, kEnd, OperandFloats, lanes.SharedBase);
        var fragments = new FragmentPlaces(
            StageWord(warpRow + Mma.BColumn(lane), Mma.Tf32BK(lane, 0), aK, bf16),
            OperandFloats + StageWord(warpCol + Mma.BColumn(lane), Mma.Tf32BK(lane, 0), bK, bf16),
            MatrixWord(lanes, warpRow, aK, bf16, false), OperandFloats + MatrixWord(lanes, warpCol, bK, bf16, true),
            lanes.SharedBase);

        // The address of the thread's first piece of the next tile to queue, its k and the stage it goes to (in words).
        long nextA = queueA.First, nextB = queueB.First;
        int queuedK = 0, queued = 0;
        for (int tile = 0; tile < PipelineStages - 1; tile++)
        {
            queueA.Queue(shared, queued, nextA, queuedK);
            queueB.Queue(shared, queued, nextB, queuedK);
            (nextA, nextB, queuedK) = (nextA + queueA.TileBytes, nextB + queueB.TileBytes, queuedK + TileK(bf16));
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
            (nextA, nextB, queuedK) = (nextA + queueA.TileBytes, nextB + queueB.TileBytes, queuedK + TileK(bf16));
            AsyncCopies.Commit();
            queued = NextStage(queued);
            w = Products<TProducts>(w, shared, stage, 0, fragments, warpRow, warpCol, lane, aK, bK, bf16);
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

    /// <summary>One operand of a pipelined launch as one thread sees it: its layout, its copy's strides and its lines.</summary>
    /// <param name="LineStride">The copy's stride between lines (see <see cref="GemmArguments"/>).</param>
    /// <param name="KStride">The copy's stride along k.</param>
    /// <param name="LineBase">The block's first line (row of c for op(a), column for op(b)).</param>
    private readonly record struct OperandShare(int Thread, bool KContiguous, bool Bf16, int Lines, int LineStride, int KStride,
        int LineBase);

    /// <summary>
    /// One operand's share of the tiles for one thread: its two pieces of a tile (BF16: its two groups of eight, see
    /// <see cref="LoadCopy"/>; TF32: its two groups of four, see <see cref="Position"/>) queued to their places in a stage
    /// (see <see cref="StoreCopy"/>, <see cref="StageWord"/>) by cp.async, or copied at once where there is no cp.async.
    /// Pieces are named by their global byte addresses, which the k loop advances by a tile's bytes; the copy at once takes
    /// its words from the address's distance to the copy's.
    /// </summary>
    private readonly struct TileQueue
    {
        private readonly ArrayView<float> _x;
        private readonly long _address, _secondBytes;
        private readonly uint _shared, _secondShared;
        private readonly int _linesLeft, _kLeft, _secondLines, _secondK;

        /// <param name="address">The global address of the copy's first element.</param>
        /// <param name="operand">The operand's first word in a stage (0 for op(a), <see cref="OperandFloats"/> for op(b)).</param>
        /// <param name="sharedBase">The shared-window address of the dynamic shared memory (0 where there is no cp.async).</param>
        public TileQueue(ArrayView<float> x, long address, in OperandShare share, int kBegin, int kEnd, int operand, uint sharedBase)
        {
            bool kContiguous = share.KContiguous, bf16 = share.Bf16;
            var copy = new OperandCopy(share.Thread, kContiguous, bf16, 1, share.Lines, share.LineStride, share.KStride,
                share.LineBase, kBegin, kEnd);
            (_x, _address, _linesLeft, _kLeft) = (x, address, copy.LinesLeft, copy.KLeft);
            _shared = sharedBase + 4u * (uint)(operand + copy.Shared);
            int bytes = bf16 ? 2 : 4, n = GroupLength(bf16); // an element's bytes, a group's elements
            First = address + bytes * copy.First;
            TileBytes = bytes * copy.TileStep;
            _secondBytes = (long)bytes * copy.GroupStep;
            _secondShared = 4u * (uint)SecondGroupWords(kContiguous, bf16);
            (_secondLines, _secondK) = (LineOffset(n, kContiguous, bf16), KOffset(n, kContiguous, bf16));
        }

        /// <summary>The address of this thread's first piece in the split's first tile.</summary>
        public long First { get; }

        /// <summary>Bytes from a tile's piece to the next tile's.</summary>
        public long TileBytes { get; }

        /// <summary>
        /// Queues the pieces of the tile that starts <paramref name="tileK"/> into the split, its first at
        /// <paramref name="source"/>, to the stage at word <paramref name="stage"/>; 0 for a piece past the operand's lines
        /// or the split's k. A piece lies wholly inside a line of the copy or wholly outside (<see cref="CopyAlignment"/>; a
        /// TF32 copy pads each line's k to 4), so its first element decides.
        /// </summary>
        public void Queue(ArrayView<float> shared, int stage, long source, int tileK)
        {
            uint at = _shared + 4u * (uint)stage;
            Piece(shared, at, source, Inside(0, 0, tileK));
            Piece(shared, at + _secondShared, source + _secondBytes, Inside(_secondLines, _secondK, tileK));
        }

        private bool Inside(int line, int k, int tileK) => line < _linesLeft && tileK + k < _kLeft;

        /// <summary>The piece at <paramref name="source"/> to shared address <paramref name="at"/>, or 0 there.</summary>
        private void Piece(ArrayView<float> shared, uint at, long source, bool inside)
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
