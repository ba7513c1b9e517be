using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// GEMMs on copies of their operands (BF16: TensorCoreGemmKernels.Copies.cs, TF32: TensorCoreGemmKernels.Tf32Copies.cs) on
// Hopper's warpgroup products (Wgmma): the block's 128 × 128 tile is two warpgroups' 64 × 128, each one 64 × 128
// product per 16 of k (BF16; TF32: per 8), read by the tensor cores straight from shared memory, where the pipelined
// kernels (TensorCoreGemmKernels.Pipelined.cs) load fragments with ldmatrix and issue mma.sync warp by warp. Tiles (128
// lines × 128 bytes of k, as CUTLASS's Hopper GEMMs take them: four products a warpgroup between two barriers) reach shared
// memory by cp.async, as the pipelined kernels' do, in a ring of WarpgroupStages stages, but laid out in
// core matrices (Wgmma.ElementByte): a 16-byte piece of a copy is a core matrix's row, 16 bytes of k of one line of a
// k-contiguous copy or 8 lines at one k of a line-contiguous (BF16) one, so either layout stages with cp.async and no
// transposition, the line-contiguous one as an MN-major operand. CUDA loads these kernels from PTX rewritten for sm_90a
// (PtxRewrite.Hopper). The emulating CPU accelerator copies each piece at once and sums each
// accumulator's products over a tile's k in order, as the emulation of the other kernels on copies does, so on it the
// results equal theirs bit for bit.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>
    /// Stages of the warpgroup kernels' ring: while a tile's products run, the tile before's may still be in flight and the
    /// next (<see cref="CopiesAhead"/>) is landing. A tile's products take as long as those of two tiles of 64 bytes of k,
    /// so one tile ahead gives the copies as long to land as two such tiles ahead in a ring of four (64 KB) would, with
    /// half the barriers.
    /// </summary>
    public const int WarpgroupStages = 3;

    /// <summary>Tiles queued ahead of the one multiplied.</summary>
    private const int CopiesAhead = WarpgroupStages - 2;

    private const int WarpgroupOperandBytes = TileM * Wgmma.TileKBytes, WarpgroupStageBytes = 2 * WarpgroupOperandBytes;

    /// <summary>
    /// Floats of dynamic shared memory a warpgroup launch needs: <see cref="WarpgroupStages"/> stages (96 KB, two blocks a
    /// multiprocessor in Hopper's 227 KB).
    /// </summary>
    public const int WarpgroupSharedFloats = WarpgroupStages * WarpgroupStageBytes / sizeof(float);

    /// <summary>k of a warpgroup kernel's tile: 128 bytes, 64 BF16 or 32 TF32.</summary>
    public static int WarpgroupTileK(bool bf16) => Wgmma.TileKBytes / (bf16 ? 2 : 4);

    /// <summary>BF16 on copies, warpgroup products, op(a) k-contiguous, op(b) k-contiguous (c = a·bᵀ).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, Hopper = true)]
    public static void Bf16WarpgroupABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunWarpgroup<Bf16CopyProducts, KContiguous, KContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies, warpgroup products, op(a) k-contiguous, op(b) column-contiguous (c = a·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, Hopper = true)]
    public static void Bf16WarpgroupAB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunWarpgroup<Bf16CopyProducts, KContiguous, LineContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies, warpgroup products, op(a) row-contiguous, op(b) column-contiguous (c = aᵀ·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, Hopper = true)]
    public static void Bf16WarpgroupAtB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunWarpgroup<Bf16CopyProducts, LineContiguous, LineContiguous>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies, warpgroup products, op(a) row-contiguous, op(b) k-contiguous (aᵀ·b when b has one column).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, Hopper = true)]
    public static void Bf16WarpgroupAtBt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunWarpgroup<Bf16CopyProducts, LineContiguous, KContiguous>(a, b, bias, c, activation, g);

    /// <summary>
    /// TF32 on TF32 copies, warpgroup products, both k-contiguous (c = a·bᵀ): every TF32 product on copies, whose copies are
    /// all k-contiguous (<see cref="CopyTf32"/>), as TF32 warpgroup products need.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks, Hopper = true)]
    public static void Tf32WarpgroupABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        RunWarpgroup<Tf32Products, KContiguous, KContiguous>(a, b, bias, c, activation, g);

    /// <summary>
    /// The product: the first <see cref="CopiesAhead"/> tiles queued, then for each tile a wait for its copies, the fence
    /// that shows them to the tensor cores, one barrier (every thread's copies landed, and both warpgroups done with the
    /// stage the next queue overwrites, that of the tile two back: each waited for it after queueing the products of the
    /// tile before), the queue of the next tile, and this tile's products, which stay in flight through the next
    /// tile's wait, barrier and queue. Warp w holds rows 16w to 16w + 15 of the tile (warpgroup w / 4, its warp w mod 4)
    /// and all 128 columns: its accumulators Fij are columns 32i + 8j to 32i + 8j + 7 (on CUDA in registers ILGPU does not
    /// see until the end, <see cref="Wgmma.Collect"/>).
    /// </summary>
    private static void RunWarpgroup<TProducts, TA, TB>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias,
        ArrayView<float> c, ArrayView<float> activation, in TensorCoreGemmArguments g)
        where TProducts : struct, IProducts
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout
    {
        bool aK = default(TA).KIsContiguous, bK = default(TB).KIsContiguous, bf16 = default(TProducts).Bf16;
        var shared = SharedMemory.GetDynamic<float>();
        int thread = Group.IdxX, lane = thread & (Mma.WarpLanes - 1), warp = thread >> 5;
        int rowBase = Grid.IdxY * TileM, colBase = Grid.IdxX * TileN;
        int kBegin = Grid.IdxZ * g.KPerSplit, kEnd = XMin(g.K, kBegin + g.KPerSplit);
        int tileK = WarpgroupTileK(bf16), tiles = (kEnd - kBegin + tileK - 1) / tileK;
        uint sharedBase = CudaAsm.IsSupported ? Mma.DynamicSharedBase() : 0u;
        var queueA = new CoreMatrixQueue(a, g.AAddress, thread, aK, bf16, g.M - rowBase, g.ARowStride, g.AKStride, rowBase,
            kBegin, kEnd - kBegin, sharedBase);
        var queueB = new CoreMatrixQueue(b, g.BAddress, thread, bK, bf16, g.N - colBase, g.BColStride, g.BKStride, colBase,
            kBegin, kEnd - kBegin, sharedBase + WarpgroupOperandBytes);
        // The descriptors of this warpgroup's rows of op(a) and of op(b)'s 128 columns in the first stage.
        ulong rowsOfA = Wgmma.Descriptor(sharedBase + (uint)((warp >> 2) * 8 * Wgmma.StrideBytes));
        ulong columnsOfB = Wgmma.Descriptor(sharedBase + WarpgroupOperandBytes);

        if (CudaAsm.IsSupported) Wgmma.DeclareAccumulators();
        long nextA = queueA.First, nextB = queueB.First;
        int queuedK = 0, queued = 0;
        for (int tile = 0; tile < CopiesAhead; tile++)
        {
            queueA.Queue(shared, queued, nextA, queuedK);
            queueB.Queue(shared, queued, nextB, queuedK);
            (nextA, nextB, queuedK) = (nextA + queueA.TileBytes, nextB + queueB.TileBytes, queuedK + tileK);
            AsyncCopies.Commit();
            queued += WarpgroupStageBytes;
        }
        var w = default(WarpAccumulators);
        int stage = 0;
        for (int left = tiles; left > 0; left--)
        {
            AsyncCopies.WaitForAllBut(CopiesAhead - 1);
            Wgmma.FenceSharedWrites();
            Group.Barrier();
            queueA.Queue(shared, queued, nextA, queuedK);
            queueB.Queue(shared, queued, nextB, queuedK);
            (nextA, nextB, queuedK) = (nextA + queueA.TileBytes, nextB + queueB.TileBytes, queuedK + tileK);
            AsyncCopies.Commit();
            queued = NextWarpgroupStage(queued);
            if (CudaAsm.IsSupported)
            {
                Wgmma.Tile(Wgmma.Advanced(rowsOfA, (uint)stage), Wgmma.Advanced(columnsOfB, (uint)stage), bf16, aK, bK);
            }
            else
            {
                w = EmulateWarpgroup(w, shared, stage >> 2, (warp >> 2) * 64 + (warp & 3) * 16, lane, aK, bK, bf16);
            }
            stage = NextWarpgroupStage(stage);
        }
        if (CudaAsm.IsSupported)
        {
            Wgmma.Collect(ref w.F00, ref w.F01, ref w.F02, ref w.F03, ref w.F10, ref w.F11, ref w.F12, ref w.F13,
                ref w.F20, ref w.F21, ref w.F22, ref w.F23, ref w.F30, ref w.F31, ref w.F32, ref w.F33);
        }
        // The zero fills queued past the last tile are still in flight: none outlives the block.
        AsyncCopies.WaitForAllBut(0);
        var output = new GemmOutput(bias, c, activation);
        int row = rowBase + (warp >> 2) * 64 + (warp & 3) * 16;
        StoreRow<Unbatched>(output, g, row, colBase, lane, w.F00, w.F01, w.F02, w.F03);
        StoreRow<Unbatched>(output, g, row, colBase + 32, lane, w.F10, w.F11, w.F12, w.F13);
        StoreRow<Unbatched>(output, g, row, colBase + 64, lane, w.F20, w.F21, w.F22, w.F23);
        StoreRow<Unbatched>(output, g, row, colBase + 96, lane, w.F30, w.F31, w.F32, w.F33);
    }

    /// <summary>The byte where the stage after the one at byte <paramref name="stage"/> begins, round the ring.</summary>
    private static int NextWarpgroupStage(int stage) =>
        stage == (WarpgroupStages - 1) * WarpgroupStageBytes ? 0 : stage + WarpgroupStageBytes;

    /// <summary>
    /// A warp's products of one stage (at word <paramref name="stage"/>) without tensor cores: each accumulator gets the
    /// products over the tile's k at its row (from <paramref name="row"/>, the warp's first in the tile) and column, in
    /// order of k, read from the core matrices.
    /// </summary>
    private static WarpAccumulators EmulateWarpgroup(WarpAccumulators w, ArrayView<float> shared, int stage, int row, int lane,
        bool aK, bool bK, bool bf16)
    {
        var tile = new EmulatedCoreMatrices(shared, stage, aK, bK, bf16);
        EmulateWarpgroup(ref w.F00, tile, row, 0, lane);
        EmulateWarpgroup(ref w.F01, tile, row, 8, lane);
        EmulateWarpgroup(ref w.F02, tile, row, 16, lane);
        EmulateWarpgroup(ref w.F03, tile, row, 24, lane);
        EmulateWarpgroup(ref w.F10, tile, row, 32, lane);
        EmulateWarpgroup(ref w.F11, tile, row, 40, lane);
        EmulateWarpgroup(ref w.F12, tile, row, 48, lane);
        EmulateWarpgroup(ref w.F13, tile, row, 56, lane);
        EmulateWarpgroup(ref w.F20, tile, row, 64, lane);
        EmulateWarpgroup(ref w.F21, tile, row, 72, lane);
        EmulateWarpgroup(ref w.F22, tile, row, 80, lane);
        EmulateWarpgroup(ref w.F23, tile, row, 88, lane);
        EmulateWarpgroup(ref w.F30, tile, row, 96, lane);
        EmulateWarpgroup(ref w.F31, tile, row, 104, lane);
        EmulateWarpgroup(ref w.F32, tile, row, 112, lane);
        EmulateWarpgroup(ref w.F33, tile, row, 120, lane);
        return w;
    }

    private static void EmulateWarpgroup(ref MmaAccumulator f, in EmulatedCoreMatrices tile, int row, int col, int lane)
    {
        f.C0 = tile.Dot(f.C0, row + Mma.AccumulatorRow(lane, 0), col + Mma.AccumulatorColumn(lane, 0));
        f.C1 = tile.Dot(f.C1, row + Mma.AccumulatorRow(lane, 1), col + Mma.AccumulatorColumn(lane, 1));
        f.C2 = tile.Dot(f.C2, row + Mma.AccumulatorRow(lane, 2), col + Mma.AccumulatorColumn(lane, 2));
        f.C3 = tile.Dot(f.C3, row + Mma.AccumulatorRow(lane, 3), col + Mma.AccumulatorColumn(lane, 3));
    }

    /// <summary>A stage as the emulation reads it: both operands' tiles in core matrices, op(b)'s after op(a)'s.</summary>
    private readonly struct EmulatedCoreMatrices(ArrayView<float> shared, int stage, bool aK, bool bK, bool bf16)
    {
        public float Dot(float sum, int row, int col)
        {
            for (int k = 0; k < WarpgroupTileK(bf16); k++)
                sum += Wgmma.Element(shared, stage, row, k, aK, bf16) *
                    Wgmma.Element(shared, stage + WarpgroupOperandBytes / 4, col, k, bK, bf16);
            return sum;
        }
    }

    /// <summary>
    /// Which 16-byte pieces of an operand's tile (128 lines × 128 bytes of k: 64 BF16 or 32 TF32) thread
    /// <paramref name="thread"/> queues: its first at (<c>Line</c>, <c>K</c>), the others <c>PieceLines</c> lines on each. A
    /// piece is a row of a core matrix (<see cref="Wgmma.ElementByte"/>): 16 bytes of k of one line of a k-contiguous copy,
    /// or 8 lines at one k of a line-contiguous (BF16) one. The 8 lanes that write shared memory together (a 16-byte copy
    /// stores 8 lanes' 128 bytes at a time) take the 8 rows of one core matrix, each 16 bytes of the 128 that the 32 banks
    /// hold, so no two of them write the same bank: k-contiguous, lane 8c + r of warp w takes line r of a group of 8 lines
    /// and its 16 bytes of k numbered c + 4·(w mod 2); line-contiguous, k r of a group of 8 and lines 8c to 8c + 7.
    /// Either way a warp's copy reads 64 contiguous bytes of each of 8 rows of the copy, whole 32-byte sectors.
    /// </summary>
    internal static (int Line, int K, int PieceLines) WarpgroupPiece(int thread, bool kContiguous, bool bf16)
    {
        int lane = thread & (Mma.WarpLanes - 1), warp = thread >> 5, row = lane & 7, column = lane >> 3;
        // k-contiguous: warp w takes groups of lines 4(w / 2) to 4(w / 2) + 3 (one a piece) and half w mod 2 of k;
        // line-contiguous: warp w takes k 8w to 8w + 7 and lines 8c + 32i (piece i)
        return kContiguous
            ? (32 * (warp >> 1) + row, 16 / (bf16 ? 2 : 4) * (4 * (warp & 1) + column), 8)
            : (8 * column, 8 * warp + row, 32);
    }

    /// <summary>
    /// One operand's share of the tiles for one thread: four 16-byte pieces of each tile of its copy
    /// (<see cref="WarpgroupPiece"/>), queued by cp.async or copied at once where there is none. A piece lies wholly
    /// inside the copy's padded lines and k (<see cref="CopyAlignment"/>; a TF32 copy pads k to 4) or wholly outside, where
    /// it is a zero fill. A thread's pieces lie the same distance apart in the copy and in the stage. A tile inside the
    /// operand's lines and the split's k, as all but the last tile of a split and the last block of lines are, queues its
    /// pieces without testing each.
    /// </summary>
    private readonly struct CoreMatrixQueue
    {
        private readonly ArrayView<float> _x;
        private readonly long _address, _pieceBytes;
        private readonly uint _shared, _pieceShared;
        private readonly int _line, _k, _pieceLines, _linesLeft, _kLeft, _wholeTilesK;

        /// <param name="address">The global address of the copy's first element.</param>
        /// <param name="linesLeft">Lines of the operand from the block's first (<paramref name="lineBase"/>) on.</param>
        /// <param name="kLeft">k of the split.</param>
        /// <param name="tile">The shared-window address of the operand's tile in the first stage.</param>
        public CoreMatrixQueue(ArrayView<float> x, long address, int thread, bool kContiguous, bool bf16, int linesLeft,
            int lineStride, int kStride, int lineBase, int kBegin, int kLeft, uint tile)
        {
            (_x, _address, _linesLeft, _kLeft) = (x, address, linesLeft, kLeft);
            int bytes = bf16 ? 2 : 4; // an element's
            (_line, _k, _pieceLines) = WarpgroupPiece(thread, kContiguous, bf16);
            _shared = tile + (uint)Wgmma.ElementByte(_line, _k, kContiguous, bf16);
            _pieceShared = (uint)(Wgmma.ElementByte(_line + _pieceLines, _k, kContiguous, bf16) -
                Wgmma.ElementByte(_line, _k, kContiguous, bf16));
            First = address + bytes * ((long)(lineBase + _line) * lineStride + (long)(kBegin + _k) * kStride);
            _pieceBytes = (long)bytes * _pieceLines * lineStride;
            TileBytes = (long)bytes * WarpgroupTileK(bf16) * kStride;
            // tiles that start at or below this k lie wholly inside the split, where the block's lines are all in the operand
            _wholeTilesK = linesLeft >= TileM ? kLeft - WarpgroupTileK(bf16) : int.MinValue;
        }

        /// <summary>The address of this thread's first piece in the split's first tile.</summary>
        public long First { get; }

        /// <summary>Bytes from a tile's piece to the next tile's.</summary>
        public long TileBytes { get; }

        /// <summary>
        /// Queues the pieces of the tile that starts <paramref name="tileK"/> into the split, the first at
        /// <paramref name="source"/>, to the stage at byte <paramref name="stage"/>.
        /// </summary>
        public void Queue(ArrayView<float> shared, int stage, long source, int tileK)
        {
            uint at = _shared + (uint)stage;
            if (tileK <= _wholeTilesK)
            {
                Piece(shared, at, source, true, 0);
                Piece(shared, at, source, true, 1);
                Piece(shared, at, source, true, 2);
                Piece(shared, at, source, true, 3);
                return;
            }
            Piece(shared, at, source, Inside(tileK, 0), 0);
            Piece(shared, at, source, Inside(tileK, 1), 1);
            Piece(shared, at, source, Inside(tileK, 2), 2);
            Piece(shared, at, source, Inside(tileK, 3), 3);
        }

        /// <summary>Whether piece <paramref name="i"/> of the tile at <paramref name="tileK"/> lies inside the operand.</summary>
        private bool Inside(int tileK, int i) => _line + i * _pieceLines < _linesLeft && tileK + _k < _kLeft;

        /// <summary>
        /// Queues piece <paramref name="i"/> of the tile whose first piece goes from <paramref name="source"/> to
        /// <paramref name="at"/>, or its zero fill where it is not <paramref name="inside"/>.
        /// </summary>
        private void Piece(ArrayView<float> shared, uint at, long source, bool inside, int i) =>
            AsyncCopies.Queue16(shared, _x, at + (uint)i * _pieceShared, Source(source + i * _pieceBytes, inside), inside);

        /// <summary>
        /// What <see cref="AsyncCopies.Queue16"/> takes for the piece at <paramref name="address"/>: on CUDA the address, or
        /// the copy's own start for a zero fill (which reads nothing); off CUDA the byte offset into the copy.
        /// </summary>
        private long Source(long address, bool inside) =>
            CudaAsm.IsSupported ? (inside ? address : _address) : address - _address;
    }
}
