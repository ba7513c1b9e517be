using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// An operand of a warp's products in shared memory, already rounded to TF32: element (line, k) at
/// Offset + line·LineStride + k·KStride. Lines are the rows of A, or the columns of B (the n of a product).
/// </summary>
internal readonly record struct SharedOperand(int Offset, int LineStride, int KStride)
{
    /// <summary>The word of element (<paramref name="line"/>, <paramref name="k"/>).</summary>
    public int At(int line, int k) => Offset + line * LineStride + k * KStride;

    /// <summary>The same operand starting <paramref name="lines"/> lines further.</summary>
    public SharedOperand Skip(int lines) => this with { Offset = Offset + lines * LineStride };
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
/// <see cref="Mma.Tf32Row"/>; on ILGPU's CPU accelerator with warps of 32 (tests) the same sums read element by element
/// at the places the fragment layouts give each lane, so everything but the instruction runs as on a GPU.
/// </summary>
internal static class WarpProducts
{
    /// <summary>
    /// c_j += A[0..16, k..k+8]·B[lines 8j..8j+8 past <paramref name="line"/>, k..k+8]ᵀ for j = 0..3 (c0 .. c3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3,
        ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int line, int k, int lane)
    {
        if (!CudaAsm.IsSupported)
        {
            Emulate(ref c0, shared, a, b, line, k, lane);
            Emulate(ref c1, shared, a, b, line + 8, k, lane);
            Emulate(ref c2, shared, a, b, line + 16, k, lane);
            Emulate(ref c3, shared, a, b, line + 24, k, lane);
            return;
        }
        var fragment = new MmaValuesA
        {
            V0 = shared[a.At(Mma.ARow(lane, 0), k + Mma.Tf32AK(lane, 0))],
            V1 = shared[a.At(Mma.ARow(lane, 1), k + Mma.Tf32AK(lane, 1))],
            V2 = shared[a.At(Mma.ARow(lane, 2), k + Mma.Tf32AK(lane, 2))],
            V3 = shared[a.At(Mma.ARow(lane, 3), k + Mma.Tf32AK(lane, 3))],
        };
        Mma.Tf32Row(ref c0, ref c1, ref c2, ref c3, fragment, LoadB(shared, b, line, k, lane), LoadB(shared, b, line + 8, k, lane),
            LoadB(shared, b, line + 16, k, lane), LoadB(shared, b, line + 24, k, lane));
    }

    /// <summary>The eight fragments of <paramref name="c"/> += A[0..16, k..k+8]·B[lines 0..64, k..k+8]ᵀ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Fragments8 c, ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int k, int lane)
    {
        Accumulate(ref c.F0, ref c.F1, ref c.F2, ref c.F3, shared, a, b, 0, k, lane);
        Accumulate(ref c.F4, ref c.F5, ref c.F6, ref c.F7, shared, a, b, 32, k, lane);
    }

    /// <summary>The four fragments of <paramref name="c"/> += A[0..16, k..k+8]·B[lines 0..32, k..k+8]ᵀ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Fragments4 c, ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int k, int lane) =>
        Accumulate(ref c.F0, ref c.F1, ref c.F2, ref c.F3, shared, a, b, 0, k, lane);

    /// <summary>
    /// <paramref name="c"/> += A[0..16, 0..64]·B[lines 0..32, 0..64]ᵀ (a product over a head of 64), written out step by
    /// step: ILGPU does not unroll loops, and constant k make every shared-memory offset an immediate.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateOver64(ref Fragments4 c, ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int lane)
    {
        Accumulate(ref c, shared, a, b, 0, lane);
        Accumulate(ref c, shared, a, b, 8, lane);
        Accumulate(ref c, shared, a, b, 16, lane);
        Accumulate(ref c, shared, a, b, 24, lane);
        Accumulate(ref c, shared, a, b, 32, lane);
        Accumulate(ref c, shared, a, b, 40, lane);
        Accumulate(ref c, shared, a, b, 48, lane);
        Accumulate(ref c, shared, a, b, 56, lane);
    }

    /// <summary><paramref name="c"/> += A[0..16, 0..32]·B[lines 0..64, 0..32]ᵀ (a product over a tile of 32), step by step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateOver32(ref Fragments8 c, ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int lane)
    {
        Accumulate(ref c, shared, a, b, 0, lane);
        Accumulate(ref c, shared, a, b, 8, lane);
        Accumulate(ref c, shared, a, b, 16, lane);
        Accumulate(ref c, shared, a, b, 24, lane);
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

    public static float Max(float x, float y) => x > y ? x : y;

    private static MmaValuesB LoadB(ArrayView<float> shared, in SharedOperand b, int line, int k, int lane) => new()
    {
        V0 = shared[b.At(line + Mma.BColumn(lane), k + Mma.Tf32BK(lane, 0))],
        V1 = shared[b.At(line + Mma.BColumn(lane), k + Mma.Tf32BK(lane, 1))],
    };

    private static void Emulate(ref MmaAccumulator f, ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int line, int k,
        int lane)
    {
        f.C0 += Dot(shared, a, b, Mma.AccumulatorRow(lane, 0), line + Mma.AccumulatorColumn(lane, 0), k);
        f.C1 += Dot(shared, a, b, Mma.AccumulatorRow(lane, 1), line + Mma.AccumulatorColumn(lane, 1), k);
        f.C2 += Dot(shared, a, b, Mma.AccumulatorRow(lane, 2), line + Mma.AccumulatorColumn(lane, 2), k);
        f.C3 += Dot(shared, a, b, Mma.AccumulatorRow(lane, 3), line + Mma.AccumulatorColumn(lane, 3), k);
    }

    private static float Dot(ArrayView<float> shared, in SharedOperand a, in SharedOperand b, int row, int column, int k)
    {
        float sum = 0f;
        for (int i = k; i < k + 8; i++) sum += shared[a.At(row, i)] * shared[b.At(column, i)];
        return sum;
    }
}
