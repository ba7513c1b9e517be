using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// How an operand of a warp's products lies in shared memory: element (line, k) at offset + line·Line + k·K, lines being
/// the rows of A or the columns of B (the n of a product). A type, so that the strides are constants of the kernel and
/// every shared-memory offset past a lane's first element is an immediate.
/// </summary>
internal interface IOperandStrides
{
    int Line { get; }

    int K { get; }
}

/// <summary>Eight accumulator fragments: a warp's 16 × 64 tile, F{j} covering columns 8j.. (plain fields: registers).</summary>
internal struct Fragments8
{
    public MmaAccumulator F0, F1, F2, F3, F4, F5, F6, F7;
}

/// <summary>Four accumulator fragments: a warp's 16 × 32 tile, F{j} covering columns 8j...</summary>
internal struct Fragments4
{
    public MmaAccumulator F0, F1, F2, F3;
}

/// <summary>
/// One warp's TF32 tensor-core products from shared memory, for kernels whose warps own 16-row tiles (the attention
/// kernels): c_j += A[16 rows, 8 k]·B[8 k, 8 columns]_j for four fragments j side by side. On CUDA (sm_80+) one
/// <see cref="Mma.Tf32Row"/>, its operands loaded with ldmatrix where their k is contiguous in shared memory (one per A
/// fragment or pair of B fragments), else word by word; on ILGPU's CPU accelerator with warps of 32 (tests) the same sums
/// read element by element at the places the fragment layouts give each lane (a host test checks the ldmatrix rows).
/// </summary>
internal static class WarpProducts
{
    /// <summary>
    /// c_j += A[0..16, k..k+8]·B[lines 8j..8j+8 past <paramref name="line"/>, k..k+8]ᵀ for j = 0..3 (c0 .. c3), A's element
    /// (0, 0) at word <paramref name="a"/> of <paramref name="shared"/>, B's at <paramref name="b"/>. With constant
    /// <paramref name="line"/> and <paramref name="k"/>, every load is the lane's first element of A or B plus an immediate.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate<TA, TB>(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3,
        ArrayView<float> shared, int a, int b, int line, int k, in LaneMatrices lane)
        where TA : struct, IOperandStrides
        where TB : struct, IOperandStrides
    {
        if (!CudaAsm.IsSupported)
        {
            Emulate<TA, TB>(ref c0, shared, a, b, line, k, lane.Lane);
            Emulate<TA, TB>(ref c1, shared, a, b, line + 8, k, lane.Lane);
            Emulate<TA, TB>(ref c2, shared, a, b, line + 16, k, lane.Lane);
            Emulate<TA, TB>(ref c3, shared, a, b, line + 24, k, lane.Lane);
            return;
        }
        var values = LoadA<TA>(shared, a, k, lane);
        var (b0, b1) = LoadB<TB>(shared, b, line, k, lane);
        var (b2, b3) = LoadB<TB>(shared, b, line + 16, k, lane);
        Mma.Tf32Row(ref c0, ref c1, ref c2, ref c3, values, b0, b1, b2, b3);
    }

    /// <summary>
    /// The eight fragments of <paramref name="c"/> += A[0..16, k..k+8]·B[lines 0..64, k..k+8]ᵀ, the last four only where
    /// <paramref name="lines"/> (of 64; the rest are zero padding) reach past 32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate<TA, TB>(ref Fragments8 c, ArrayView<float> shared, int a, int b, int k, in LaneMatrices lane,
        int lines)
        where TA : struct, IOperandStrides
        where TB : struct, IOperandStrides
    {
        Accumulate<TA, TB>(ref c.F0, ref c.F1, ref c.F2, ref c.F3, shared, a, b, 0, k, lane);
        if (lines > 32) Accumulate<TA, TB>(ref c.F4, ref c.F5, ref c.F6, ref c.F7, shared, a, b, 32, k, lane);
    }

    /// <summary>The four fragments of <paramref name="c"/> += A[0..16, k..k+8]·B[lines 0..32, k..k+8]ᵀ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate<TA, TB>(ref Fragments4 c, ArrayView<float> shared, int a, int b, int k, in LaneMatrices lane)
        where TA : struct, IOperandStrides
        where TB : struct, IOperandStrides =>
        Accumulate<TA, TB>(ref c.F0, ref c.F1, ref c.F2, ref c.F3, shared, a, b, 0, k, lane);

    /// <summary>
    /// <paramref name="c"/> += A[0..16, 0..columns]·B[lines 0..32, 0..columns]ᵀ, a product over a head's first
    /// <paramref name="columns"/> (a multiple of 8 up to 64; the stage's columns past them are zero padding, whose steps
    /// are skipped), written out step by step: ILGPU does not unroll loops, and constant k make every shared-memory offset
    /// an immediate. Heads of 64 pass the constant, which folds the checks away.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateOverHead<TA, TB>(ref Fragments4 c, ArrayView<float> shared, int a, int b, in LaneMatrices lane,
        int columns)
        where TA : struct, IOperandStrides
        where TB : struct, IOperandStrides
    {
        Accumulate<TA, TB>(ref c, shared, a, b, 0, lane);
        if (columns > 8) Accumulate<TA, TB>(ref c, shared, a, b, 8, lane);
        if (columns > 16) Accumulate<TA, TB>(ref c, shared, a, b, 16, lane);
        if (columns > 24) Accumulate<TA, TB>(ref c, shared, a, b, 24, lane);
        if (columns > 32) Accumulate<TA, TB>(ref c, shared, a, b, 32, lane);
        if (columns > 40) Accumulate<TA, TB>(ref c, shared, a, b, 40, lane);
        if (columns > 48) Accumulate<TA, TB>(ref c, shared, a, b, 48, lane);
        if (columns > 56) Accumulate<TA, TB>(ref c, shared, a, b, 56, lane);
    }

    /// <summary>
    /// <paramref name="c"/> += A[0..16, 0..32]·B[lines 0..64, 0..32]ᵀ (a product over a tile of 32), step by step; the
    /// fragments of lines 32.. only where <paramref name="lines"/> reach past 32 (a head's columns, as
    /// <see cref="AccumulateOverHead{TA, TB}"/>'s).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateOver32<TA, TB>(ref Fragments8 c, ArrayView<float> shared, int a, int b, in LaneMatrices lane,
        int lines)
        where TA : struct, IOperandStrides
        where TB : struct, IOperandStrides
    {
        Accumulate<TA, TB>(ref c, shared, a, b, 0, lane, lines);
        Accumulate<TA, TB>(ref c, shared, a, b, 8, lane, lines);
        Accumulate<TA, TB>(ref c, shared, a, b, 16, lane, lines);
        Accumulate<TA, TB>(ref c, shared, a, b, 24, lane, lines);
    }

    /// <summary>
    /// c_j += a·B[lines 8j..8j+8 past <paramref name="line"/>, k..k+8]ᵀ for j = 0..3 (c0 .. c3) with the A fragment
    /// <paramref name="a"/> held in registers (values rounded to TF32, as <see cref="LoadRegisters{TA}"/> gives them), B's element
    /// (0, 0) at word <paramref name="b"/>. Off CUDA each lane gathers its rows of A from the other lanes with warp
    /// shuffles, which checks the register layout the kernels keep their fragments in, and reads B from shared memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate<TB>(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3,
        in MmaValuesA a, ArrayView<float> shared, int b, int line, int k, in LaneMatrices lane)
        where TB : struct, IOperandStrides
    {
        if (!CudaAsm.IsSupported)
        {
            Emulate<TB>(ref c0, ref c1, ref c2, ref c3, a, shared, b, line, k, lane.Lane);
            return;
        }
        var (b0, b1) = LoadB<TB>(shared, b, line, k, lane);
        var (b2, b3) = LoadB<TB>(shared, b, line + 16, k, lane);
        Mma.Tf32Row(ref c0, ref c1, ref c2, ref c3, a, b0, b1, b2, b3);
    }

    /// <summary>The largest of <paramref name="x"/> over the 4 lanes of a quad (the lanes that share a fragment row).</summary>
    public static float QuadMax(float x)
    {
        x = Max(x, Warp.ShuffleXor(x, 1));
        return Max(x, Warp.ShuffleXor(x, 2));
    }

    /// <summary>The sum of <paramref name="x"/> over the 4 lanes of a quad, in the same order on every lane.</summary>
    public static float QuadSum(float x)
    {
        x += Warp.ShuffleXor(x, 1);
        return x + Warp.ShuffleXor(x, 2);
    }

    /// <summary>The larger of two scores: one <c>max.f32</c> (FMNMX) where a compare and a select would be two.</summary>
    public static float Max(float x, float y) => MathF.Max(x, y);

    /// <summary>
    /// The A fragment of rows 0..16 past word <paramref name="a"/>, k <paramref name="k"/>.. for a kernel that keeps it in
    /// registers: <see cref="LoadA{TA}"/> on CUDA, word by word elsewhere.
    /// </summary>
    public static MmaValuesA LoadRegisters<TA>(ArrayView<float> shared, int a, int k, in LaneMatrices lane)
        where TA : struct, IOperandStrides =>
        CudaAsm.IsSupported ? LoadA<TA>(shared, a, k, lane) : LoadWords<TA>(shared, a, k, lane.Lane);

    /// <summary>
    /// The A fragment of rows 0..16 past word <paramref name="a"/>, k <paramref name="k"/>..: one ldmatrix where k is
    /// contiguous, else word by word.
    /// </summary>
    private static MmaValuesA LoadA<TA>(ArrayView<float> shared, int a, int k, in LaneMatrices lane) where TA : struct, IOperandStrides
    {
        TA sa = default;
        return sa.K == 1 ? Values(lane.LoadA(a + k, sa.Line)) : LoadWords<TA>(shared, a, k, lane.Lane);
    }

    /// <summary>The A fragment of rows 0..16 past word <paramref name="a"/>, k <paramref name="k"/>.., word by word.</summary>
    private static MmaValuesA LoadWords<TA>(ArrayView<float> shared, int a, int k, int lane) where TA : struct, IOperandStrides
    {
        TA sa = default;
        var fragment = shared.SubView(a + Mma.ARow(lane, 0) * sa.Line + Mma.Tf32AK(lane, 0) * sa.K); // (g, t)
        return new MmaValuesA
        {
            V0 = fragment[k * sa.K],
            V1 = fragment[(Mma.ARow(0, 1) - Mma.ARow(0, 0)) * sa.Line + k * sa.K],
            V2 = fragment[(k + Mma.Tf32AK(0, 2) - Mma.Tf32AK(0, 0)) * sa.K],
            V3 = fragment[(Mma.ARow(0, 3) - Mma.ARow(0, 0)) * sa.Line + (k + Mma.Tf32AK(0, 3) - Mma.Tf32AK(0, 0)) * sa.K],
        };
    }

    /// <summary>
    /// The B fragments of lines <paramref name="line"/>.. and <paramref name="line"/> + 8.. past word <paramref name="b"/>,
    /// k <paramref name="k"/>..: one ldmatrix where k is contiguous, else word by word (B1 at k + 4).
    /// </summary>
    private static (MmaValuesB, MmaValuesB) LoadB<TB>(ArrayView<float> shared, int b, int line, int k, in LaneMatrices lane)
        where TB : struct, IOperandStrides
    {
        TB sb = default;
        if (sb.K == 1)
        {
            var (low, high) = lane.LoadB(b + line * sb.Line + k, sb.Line);
            return (Values(low), Values(high));
        }
        var column = shared.SubView(b + Mma.BColumn(lane.Lane) * sb.Line + Mma.Tf32BK(lane.Lane, 0) * sb.K); // (g, t)
        return (LoadB<TB>(column, line, k), LoadB<TB>(column, line + 8, k));
    }

    private static MmaValuesB LoadB<TB>(ArrayView<float> column, int line, int k) where TB : struct, IOperandStrides
    {
        TB sb = default;
        return new MmaValuesB
        {
            V0 = column[line * sb.Line + k * sb.K],
            V1 = column[line * sb.Line + (k + Mma.Tf32BK(0, 1) - Mma.Tf32BK(0, 0)) * sb.K],
        };
    }

    private static MmaValuesA Values(MmaA a) => new()
    {
        V0 = Interop.IntAsFloat(a.A0),
        V1 = Interop.IntAsFloat(a.A1),
        V2 = Interop.IntAsFloat(a.A2),
        V3 = Interop.IntAsFloat(a.A3),
    };

    private static MmaValuesB Values(MmaB b) => new() { V0 = Interop.IntAsFloat(b.B0), V1 = Interop.IntAsFloat(b.B1) };

    private static void Emulate<TA, TB>(ref MmaAccumulator f, ArrayView<float> shared, int a, int b, int line, int k, int lane)
        where TA : struct, IOperandStrides
        where TB : struct, IOperandStrides
    {
        f.C0 += Dot<TA, TB>(shared, a, b, Mma.AccumulatorRow(lane, 0), line + Mma.AccumulatorColumn(lane, 0), k);
        f.C1 += Dot<TA, TB>(shared, a, b, Mma.AccumulatorRow(lane, 1), line + Mma.AccumulatorColumn(lane, 1), k);
        f.C2 += Dot<TA, TB>(shared, a, b, Mma.AccumulatorRow(lane, 2), line + Mma.AccumulatorColumn(lane, 2), k);
        f.C3 += Dot<TA, TB>(shared, a, b, Mma.AccumulatorRow(lane, 3), line + Mma.AccumulatorColumn(lane, 3), k);
    }

    /// <summary>
    /// The four products of <see cref="Accumulate{TB}"/> without the instruction: A (row, k) sits in lane 4·row + k mod 4
    /// (V0/V2 for rows 0–7, V1/V3 for 8–15, V2/V3 for k ≥ 4); this lane's accumulators want rows g and g + 8 and columns
    /// 2t, 2t + 1 of each fragment.
    /// </summary>
    private static void Emulate<TB>(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3,
        in MmaValuesA a, ArrayView<float> shared, int b, int line, int k, int lane)
        where TB : struct, IOperandStrides
    {
        TB sb = default;
        int g = lane >> 2, column = line + Mma.AccumulatorColumn(lane, 0);
        for (int i = 0; i < 8; i++)
        {
            bool upper = i >= 4;
            float rowLow = Warp.Shuffle(upper ? a.V2 : a.V0, 4 * g + (i & 3)); // row g
            float rowHigh = Warp.Shuffle(upper ? a.V3 : a.V1, 4 * g + (i & 3)); // row g + 8
            var at = shared.SubView(b + column * sb.Line + (k + i) * sb.K);
            Add(ref c0, rowLow, rowHigh, at[0], at[sb.Line]);
            Add(ref c1, rowLow, rowHigh, at[8 * sb.Line], at[9 * sb.Line]);
            Add(ref c2, rowLow, rowHigh, at[16 * sb.Line], at[17 * sb.Line]);
            Add(ref c3, rowLow, rowHigh, at[24 * sb.Line], at[25 * sb.Line]);
        }
    }

    /// <summary>One k of a 16 × 8 product: this lane's rows times its two columns' B values.</summary>
    private static void Add(ref MmaAccumulator c, float rowLow, float rowHigh, float column0, float column1)
    {
        c.C0 += rowLow * column0;
        c.C1 += rowLow * column1;
        c.C2 += rowHigh * column0;
        c.C3 += rowHigh * column1;
    }

    private static float Dot<TA, TB>(ArrayView<float> shared, int a, int b, int row, int column, int k)
        where TA : struct, IOperandStrides
        where TB : struct, IOperandStrides
    {
        TA sa = default;
        TB sb = default;
        float sum = 0f;
        for (int i = k; i < k + 8; i++) sum += shared[a + row * sa.Line + i * sa.K] * shared[b + column * sb.Line + i * sb.K];
        return sum;
    }
}
