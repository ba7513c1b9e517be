using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>One tensor-core GEMM launch (see <see cref="GemmArguments"/> for the strides that encode the layout).</summary>
/// <param name="KPerSplit">k elements of one split (a multiple of the tile's k), or K when the launch does not split k.</param>
/// <param name="Partials">1: write each split's product to c as [splits, M, N] partials for
/// <see cref="TensorCoreGemmKernels.ReduceSplits"/> (no bias, no accumulate); 0: write the result.</param>
internal readonly record struct TensorCoreGemmArguments(
    int M, int N, int K, int ARowStride, int AKStride, int BKStride, int BColStride,
    int KPerSplit, int Accumulate, int HasBias, int Partials);

/// <summary>
/// GEMM on tensor cores (sm_80 and newer) through inline PTX: c [M, N] = op(a)·op(b) [+ c] [+ bias[col]] with fp32
/// storage and accumulation and TF32 (m16n8k8) or BF16 (m16n8k16) products. A block of 8 warps computes a 128 × 128 tile
/// of c, each warp 64 × 32 as 4 × 4 mma fragments held in registers (<see cref="WarpAccumulators"/>). k advances 16 at a
/// time through two shared-memory stages: while a stage's products run, each thread's loads of the next tile (8
/// elements of each operand, bounds checked with zero fill) are in flight into registers, stored to the other stage
/// afterwards; one barrier per tile; 40 KB of dynamic shared memory, under the 48 KB every launch may use. (cp.async
/// would skip the registers, but ptxas then keeps every inline-PTX operand slot in local memory.) Each
/// operand is staged in the layout its global memory is contiguous in (k-major rows padded by 4, or k-minor rows padded
/// by 8), which keeps both the copies and the fragment reads free of shared-memory bank conflicts for TF32. Splitting k
/// over the grid's z (for products whose M × N has few tiles, e.g. weight gradients) writes partials that
/// <see cref="ReduceSplits"/> adds in a fixed order, so results are the same run to run. Launch only on CUDA with
/// <see cref="Threads"/> threads in x; the arithmetic of lanes assumes warps of exactly 32.
/// </summary>
internal static class TensorCoreGemmKernels
{
    public const int TileM = 128, TileN = 128, TileK = 16, Threads = 256;
    private const int WarpTileM = 64, WarpTileN = 32, WarpsN = TileN / WarpTileN;
    private const int Pad = 4, WidePad = 8;

    /// <summary>Floats of one operand's stage: k-major (rows of TileK + 4) or k-minor (rows of TileM + 8), the larger.</summary>
    private const int OperandFloats = TileM * (TileK + Pad);

    private const int StageFloats = 2 * OperandFloats;

    /// <summary>Floats of dynamic shared memory a launch needs: two stages of both operands (40 KB).</summary>
    public const int SharedFloats = 2 * StageFloats;

    /// <summary>TF32 products: c = op(a)·op(b) [+ c] [+ bias]. Grid (⌈N/128⌉, ⌈M/128⌉, splits) × 256 threads.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Tf32(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, TensorCoreGemmArguments g) =>
        Run<Tf32Products>(a, b, bias, c, g);

    /// <summary>BF16 products: c = op(a)·op(b) [+ c] [+ bias]. Grid (⌈N/128⌉, ⌈M/128⌉, splits) × 256 threads.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Bf16(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, TensorCoreGemmArguments g) =>
        Run<Bf16Products>(a, b, bias, c, g);

    /// <summary>c[i] = Σ_s partials[s, i] (in split order) [+ bias[i mod N]] [+ c[i]] over the M·N elements.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void ReduceSplits(Index1D i, ArrayView<float> partials, ArrayView<float> bias, ArrayView<float> c,
        int elements, int columns, int splits, int accumulate, int hasBias)
    {
        float sum = 0f;
        for (int s = 0; s < splits; s++) sum += partials[(long)s * elements + i];
        if (hasBias != 0) sum += bias[i % columns];
        if (accumulate != 0) sum += c[i];
        c[i] = sum;
    }

    /// <summary>The products of one stage: TF32 or BF16 fragments read from shared memory into the warp's accumulators.</summary>
    private interface IProducts
    {
        /// <summary>Whether the products round their inputs to BF16 (else TF32).</summary>
        bool Bf16 { get; }

        WarpAccumulators Accumulate(WarpAccumulators w, ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int warpRow,
            int warpCol, int lane);
    }

    /// <summary>Where op(a) or op(b) of one stage sits in shared memory: element (row or column, k).</summary>
    private readonly struct SharedOperand
    {
        public SharedOperand(int offset, bool kContiguous, int lineWidth)
        {
            Offset = offset;
            LineStride = kContiguous ? TileK + Pad : 1;
            KStride = kContiguous ? 1 : lineWidth + WidePad;
        }

        public int Offset { get; }
        public int LineStride { get; }
        public int KStride { get; }

        public int Index(int line, int k) => Offset + line * LineStride + k * KStride;
    }

    private static void Run<TProducts>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        in TensorCoreGemmArguments g)
        where TProducts : struct, IProducts
    {
        var shared = SharedMemory.GetDynamic<float>();
        int thread = Group.IdxX, lane = thread & (Mma.WarpLanes - 1), warp = thread / Mma.WarpLanes;
        int warpRow = warp / WarpsN * WarpTileM, warpCol = warp % WarpsN * WarpTileN;
        int rowBase = Grid.IdxY * TileM, colBase = Grid.IdxX * TileN;
        int kBegin = Grid.IdxZ * g.KPerSplit, kEnd = XMin(g.K, kBegin + g.KPerSplit);
        int tiles = (kEnd - kBegin + TileK - 1) / TileK;
        bool aKContiguous = g.AKStride == 1, bKContiguous = g.BKStride == 1;

        var w = default(WarpAccumulators);
        if (tiles > 0)
        {
            Staged stagedA = Load(a, g.M, g.ARowStride, g.AKStride, rowBase, kBegin, kEnd, thread, aKContiguous, TileM);
            Staged stagedB = Load(b, g.N, g.BColStride, g.BKStride, colBase, kBegin, kEnd, thread, bKContiguous, TileN);
            Store(shared, Operand(0, aKContiguous, 0, TileM), stagedA, thread, TileM);
            Store(shared, Operand(0, bKContiguous, OperandFloats, TileN), stagedB, thread, TileN);
            Group.Barrier();
        }
        for (int tile = 0; tile < tiles; tile++)
        {
            bool more = tile + 1 < tiles;
            int k0 = kBegin + (tile + 1) * TileK;
            Staged stagedA = default, stagedB = default;
            if (more)
            {
                stagedA = Load(a, g.M, g.ARowStride, g.AKStride, rowBase, k0, kEnd, thread, aKContiguous, TileM);
                stagedB = Load(b, g.N, g.BColStride, g.BKStride, colBase, k0, kEnd, thread, bKContiguous, TileN);
            }
            int stage = tile & 1;
            var operandA = Operand(stage, aKContiguous, 0, TileM);
            var operandB = Operand(stage, bKContiguous, OperandFloats, TileN);
            w = CudaAsm.IsSupported
                ? default(TProducts).Accumulate(w, shared, operandA, operandB, warpRow, warpCol, lane)
                : Emulate(w, shared, operandA, operandB, warpRow, warpCol, lane, default(TProducts).Bf16);
            if (more)
            {
                Store(shared, Operand(stage ^ 1, aKContiguous, 0, TileM), stagedA, thread, TileM);
                Store(shared, Operand(stage ^ 1, bKContiguous, OperandFloats, TileN), stagedB, thread, TileN);
            }
            Group.Barrier();
        }

        int row = rowBase + warpRow, col = colBase + warpCol;
        StoreRow(bias, c, g, row, col, lane, w.F00, w.F01, w.F02, w.F03);
        StoreRow(bias, c, g, row + 16, col, lane, w.F10, w.F11, w.F12, w.F13);
        StoreRow(bias, c, g, row + 32, col, lane, w.F20, w.F21, w.F22, w.F23);
        StoreRow(bias, c, g, row + 48, col, lane, w.F30, w.F31, w.F32, w.F33);
    }

    /// <summary>
    /// The products of one stage without tensor cores (ILGPU's CPU accelerator with warps of 32, in tests): each
    /// accumulator register gets the sum over the stage's k of the rounded products at the row and column its fragment
    /// layout gives it, read straight from shared memory (emulating the instruction register by register would take a
    /// warp shuffle per element). Everything else of the kernel runs as on a GPU.
    /// </summary>
    private static WarpAccumulators Emulate(WarpAccumulators w, ArrayView<float> shared, in SharedOperand a, in SharedOperand b,
        int warpRow, int warpCol, int lane, bool bf16)
    {
        Emulate(ref w.F00, shared, a, b, warpRow, warpCol, lane, bf16);
        Emulate(ref w.F01, shared, a, b, warpRow, warpCol + 8, lane, bf16);
        Emulate(ref w.F02, shared, a, b, warpRow, warpCol + 16, lane, bf16);
        Emulate(ref w.F03, shared, a, b, warpRow, warpCol + 24, lane, bf16);
        Emulate(ref w.F10, shared, a, b, warpRow + 16, warpCol, lane, bf16);
        Emulate(ref w.F11, shared, a, b, warpRow + 16, warpCol + 8, lane, bf16);
        Emulate(ref w.F12, shared, a, b, warpRow + 16, warpCol + 16, lane, bf16);
        Emulate(ref w.F13, shared, a, b, warpRow + 16, warpCol + 24, lane, bf16);
        Emulate(ref w.F20, shared, a, b, warpRow + 32, warpCol, lane, bf16);
        Emulate(ref w.F21, shared, a, b, warpRow + 32, warpCol + 8, lane, bf16);
        Emulate(ref w.F22, shared, a, b, warpRow + 32, warpCol + 16, lane, bf16);
        Emulate(ref w.F23, shared, a, b, warpRow + 32, warpCol + 24, lane, bf16);
        Emulate(ref w.F30, shared, a, b, warpRow + 48, warpCol, lane, bf16);
        Emulate(ref w.F31, shared, a, b, warpRow + 48, warpCol + 8, lane, bf16);
        Emulate(ref w.F32, shared, a, b, warpRow + 48, warpCol + 16, lane, bf16);
        Emulate(ref w.F33, shared, a, b, warpRow + 48, warpCol + 24, lane, bf16);
        return w;
    }

    private static void Emulate(ref MmaAccumulator f, ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int row,
        int col, int lane, bool bf16)
    {
        f.C0 = Dot(f.C0, shared, a, b, row + Mma.AccumulatorRow(lane, 0), col + Mma.AccumulatorColumn(lane, 0), bf16);
        f.C1 = Dot(f.C1, shared, a, b, row + Mma.AccumulatorRow(lane, 1), col + Mma.AccumulatorColumn(lane, 1), bf16);
        f.C2 = Dot(f.C2, shared, a, b, row + Mma.AccumulatorRow(lane, 2), col + Mma.AccumulatorColumn(lane, 2), bf16);
        f.C3 = Dot(f.C3, shared, a, b, row + Mma.AccumulatorRow(lane, 3), col + Mma.AccumulatorColumn(lane, 3), bf16);
    }

    private static float Dot(float sum, ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int row, int col, bool bf16)
    {
        for (int k = 0; k < TileK; k++)
        {
            float x = shared[a.Index(row, k)], y = shared[b.Index(col, k)];
            sum += bf16
                ? TensorCoreRounding.Bf16(x) * TensorCoreRounding.Bf16(y)
                : TensorCoreRounding.Tf32(x) * TensorCoreRounding.Tf32(y);
        }
        return sum;
    }

    private static SharedOperand Operand(int stage, bool kContiguous, int offset, int lineWidth) =>
        new(stage * StageFloats + offset, kContiguous, lineWidth);

    /// <summary>Eight elements of one operand that one thread carries from global to shared memory per stage.</summary>
    private struct Staged
    {
        public float V0, V1, V2, V3, V4, V5, V6, V7;
    }

    /// <summary>
    /// This thread's 8 elements of an operand tile: lines (rows of op(a) or columns of op(b)) lineBase.., k k0..; element
    /// (line, k) of the operand is <c>x[line·lineStride + k·kStride]</c>, 0 outside [0, lines) × [k0, kEnd).
    /// </summary>
    private static Staged Load(ArrayView<float> x, int lines, int lineStride, int kStride, int lineBase, int k0, int kEnd, int thread,
        bool kContiguous, int tileLines) => new()
        {
            V0 = Element(x, lines, lineStride, kStride, lineBase, k0, kEnd, thread, kContiguous, tileLines, 0),
            V1 = Element(x, lines, lineStride, kStride, lineBase, k0, kEnd, thread, kContiguous, tileLines, 1),
            V2 = Element(x, lines, lineStride, kStride, lineBase, k0, kEnd, thread, kContiguous, tileLines, 2),
            V3 = Element(x, lines, lineStride, kStride, lineBase, k0, kEnd, thread, kContiguous, tileLines, 3),
            V4 = Element(x, lines, lineStride, kStride, lineBase, k0, kEnd, thread, kContiguous, tileLines, 4),
            V5 = Element(x, lines, lineStride, kStride, lineBase, k0, kEnd, thread, kContiguous, tileLines, 5),
            V6 = Element(x, lines, lineStride, kStride, lineBase, k0, kEnd, thread, kContiguous, tileLines, 6),
            V7 = Element(x, lines, lineStride, kStride, lineBase, k0, kEnd, thread, kContiguous, tileLines, 7),
        };

    private static float Element(ArrayView<float> x, int lines, int lineStride, int kStride, int lineBase, int k0, int kEnd,
        int thread, bool kContiguous, int tileLines, int i)
    {
        var (line, k) = Position(thread, i, kContiguous, tileLines);
        int globalLine = lineBase + line, globalK = k0 + k;
        return globalLine < lines && globalK < kEnd ? x[(long)globalLine * lineStride + (long)globalK * kStride] : 0f;
    }

    private static void Store(ArrayView<float> shared, in SharedOperand operand, in Staged staged, int thread, int tileLines)
    {
        Store(shared, operand, thread, tileLines, 0, staged.V0);
        Store(shared, operand, thread, tileLines, 1, staged.V1);
        Store(shared, operand, thread, tileLines, 2, staged.V2);
        Store(shared, operand, thread, tileLines, 3, staged.V3);
        Store(shared, operand, thread, tileLines, 4, staged.V4);
        Store(shared, operand, thread, tileLines, 5, staged.V5);
        Store(shared, operand, thread, tileLines, 6, staged.V6);
        Store(shared, operand, thread, tileLines, 7, staged.V7);
    }

    private static void Store(ArrayView<float> shared, in SharedOperand operand, int thread, int tileLines, int i, float value)
    {
        var (line, k) = Position(thread, i, kContiguous: operand.KStride == 1, tileLines);
        shared[operand.Index(line, k)] = value;
    }

    /// <summary>
    /// Where element i (of 8) of a thread's share of a stage sits: consecutive threads walk the operand's contiguous
    /// axis of global memory (k when k-contiguous, else the lines).
    /// </summary>
    public static (int Line, int K) Position(int thread, int i, bool kContiguous, int tileLines)
    {
        int e = thread + i * Threads;
        return kContiguous ? (e / TileK, e % TileK) : (e % tileLines, e / tileLines);
    }

    /// <summary>Writes the four fragments of one 16-row slice of the warp tile (columns col, col + 8, col + 16, col + 24).</summary>
    private static void StoreRow(ArrayView<float> bias, ArrayView<float> c, in TensorCoreGemmArguments g, int row, int col, int lane,
        in MmaAccumulator f0, in MmaAccumulator f1, in MmaAccumulator f2, in MmaAccumulator f3)
    {
        Store(bias, c, g, row, col, lane, f0);
        Store(bias, c, g, row, col + 8, lane, f1);
        Store(bias, c, g, row, col + 16, lane, f2);
        Store(bias, c, g, row, col + 24, lane, f3);
    }

    private static void Store(ArrayView<float> bias, ArrayView<float> c, in TensorCoreGemmArguments g, int row, int col, int lane,
        in MmaAccumulator f)
    {
        Store(bias, c, g, row + Mma.AccumulatorRow(lane, 0), col + Mma.AccumulatorColumn(lane, 0), f.C0);
        Store(bias, c, g, row + Mma.AccumulatorRow(lane, 1), col + Mma.AccumulatorColumn(lane, 1), f.C1);
        Store(bias, c, g, row + Mma.AccumulatorRow(lane, 2), col + Mma.AccumulatorColumn(lane, 2), f.C2);
        Store(bias, c, g, row + Mma.AccumulatorRow(lane, 3), col + Mma.AccumulatorColumn(lane, 3), f.C3);
    }

    private static void Store(ArrayView<float> bias, ArrayView<float> c, in TensorCoreGemmArguments g, int row, int col, float value)
    {
        if (row >= g.M || col >= g.N) return;
        long index = (long)row * g.N + col;
        if (g.Partials != 0)
        {
            c[Grid.IdxZ * (long)g.M * g.N + index] = value;
            return;
        }
        if (g.HasBias != 0) value += bias[col];
        if (g.Accumulate != 0) value += c[index];
        c[index] = value;
    }

    private static int XMin(int x, int y) => x < y ? x : y;

    /// <summary>Two TF32 k-steps of 8 per stage.</summary>
    private readonly struct Tf32Products : IProducts
    {
        public bool Bf16 => false;

        public WarpAccumulators Accumulate(WarpAccumulators w, ArrayView<float> shared, in SharedOperand a, in SharedOperand b,
            int warpRow, int warpCol, int lane)
        {
            for (int k = 0; k < TileK; k += 8)
            {
                MmaValuesA a0 = LoadA(shared, a, warpRow, k, lane), a1 = LoadA(shared, a, warpRow + 16, k, lane);
                MmaValuesA a2 = LoadA(shared, a, warpRow + 32, k, lane), a3 = LoadA(shared, a, warpRow + 48, k, lane);
                MmaValuesB b0 = LoadB(shared, b, warpCol, k, lane), b1 = LoadB(shared, b, warpCol + 8, k, lane);
                MmaValuesB b2 = LoadB(shared, b, warpCol + 16, k, lane), b3 = LoadB(shared, b, warpCol + 24, k, lane);
                Mma.Tf32Row(ref w.F00, ref w.F01, ref w.F02, ref w.F03, a0, b0, b1, b2, b3);
                Mma.Tf32Row(ref w.F10, ref w.F11, ref w.F12, ref w.F13, a1, b0, b1, b2, b3);
                Mma.Tf32Row(ref w.F20, ref w.F21, ref w.F22, ref w.F23, a2, b0, b1, b2, b3);
                Mma.Tf32Row(ref w.F30, ref w.F31, ref w.F32, ref w.F33, a3, b0, b1, b2, b3);
            }
            return w;
        }

        private static MmaValuesA LoadA(ArrayView<float> shared, in SharedOperand a, int row, int k, int lane) => new()
        {
            V0 = shared[a.Index(row + Mma.ARow(lane, 0), k + Mma.Tf32AK(lane, 0))],
            V1 = shared[a.Index(row + Mma.ARow(lane, 1), k + Mma.Tf32AK(lane, 1))],
            V2 = shared[a.Index(row + Mma.ARow(lane, 2), k + Mma.Tf32AK(lane, 2))],
            V3 = shared[a.Index(row + Mma.ARow(lane, 3), k + Mma.Tf32AK(lane, 3))],
        };

        private static MmaValuesB LoadB(ArrayView<float> shared, in SharedOperand b, int col, int k, int lane) => new()
        {
            V0 = shared[b.Index(col + Mma.BColumn(lane), k + Mma.Tf32BK(lane, 0))],
            V1 = shared[b.Index(col + Mma.BColumn(lane), k + Mma.Tf32BK(lane, 1))],
        };
    }

    /// <summary>One BF16 k-step of 16 per stage.</summary>
    private readonly struct Bf16Products : IProducts
    {
        public bool Bf16 => true;

        public WarpAccumulators Accumulate(WarpAccumulators w, ArrayView<float> shared, in SharedOperand a, in SharedOperand b,
            int warpRow, int warpCol, int lane)
        {
            MmaA a0 = LoadA(shared, a, warpRow, lane), a1 = LoadA(shared, a, warpRow + 16, lane);
            MmaA a2 = LoadA(shared, a, warpRow + 32, lane), a3 = LoadA(shared, a, warpRow + 48, lane);
            MmaB b0 = LoadB(shared, b, warpCol, lane), b1 = LoadB(shared, b, warpCol + 8, lane);
            MmaB b2 = LoadB(shared, b, warpCol + 16, lane), b3 = LoadB(shared, b, warpCol + 24, lane);
            Row(ref w.F00, ref w.F01, ref w.F02, ref w.F03, a0, b0, b1, b2, b3);
            Row(ref w.F10, ref w.F11, ref w.F12, ref w.F13, a1, b0, b1, b2, b3);
            Row(ref w.F20, ref w.F21, ref w.F22, ref w.F23, a2, b0, b1, b2, b3);
            Row(ref w.F30, ref w.F31, ref w.F32, ref w.F33, a3, b0, b1, b2, b3);
            return w;
        }

        private static void Row(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3, in MmaA a,
            in MmaB b0, in MmaB b1, in MmaB b2, in MmaB b3)
        {
            Mma.Bf16(ref c0, a, b0);
            Mma.Bf16(ref c1, a, b1);
            Mma.Bf16(ref c2, a, b2);
            Mma.Bf16(ref c3, a, b3);
        }

        private static MmaA LoadA(ArrayView<float> shared, in SharedOperand a, int row, int lane) => new()
        {
            A0 = Pair(shared, a, row + Mma.ARow(lane, 0), Mma.Bf16AK(lane, 0)),
            A1 = Pair(shared, a, row + Mma.ARow(lane, 1), Mma.Bf16AK(lane, 1)),
            A2 = Pair(shared, a, row + Mma.ARow(lane, 2), Mma.Bf16AK(lane, 2)),
            A3 = Pair(shared, a, row + Mma.ARow(lane, 3), Mma.Bf16AK(lane, 3)),
        };

        private static MmaB LoadB(ArrayView<float> shared, in SharedOperand b, int col, int lane) => new()
        {
            B0 = Pair(shared, b, col + Mma.BColumn(lane), Mma.Bf16BK(lane, 0)),
            B1 = Pair(shared, b, col + Mma.BColumn(lane), Mma.Bf16BK(lane, 1)),
        };

        /// <summary>Elements (line, k) and (line, k + 1) as one BF16 pair, k in the low half.</summary>
        private static uint Pair(ArrayView<float> shared, in SharedOperand operand, int line, int k) =>
            Mma.PackBf16(shared[operand.Index(line, k)], shared[operand.Index(line, k + 1)]);
    }
}
