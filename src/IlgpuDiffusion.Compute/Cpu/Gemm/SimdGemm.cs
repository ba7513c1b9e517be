using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>The SIMD width a product runs with; each has its own micro-kernel.</summary>
internal enum GemmPath
{
    /// <summary>Portable 4×4 scalar micro-kernel.</summary>
    Scalar,

    /// <summary>6×16 <see cref="Vector256{T}"/> micro-kernel (AVX2-class hardware).</summary>
    Vector256,

    /// <summary>12×32 <see cref="Vector512{T}"/> micro-kernel (AVX-512 hardware).</summary>
    Vector512,
}

/// <summary>
/// Packed, cache-blocked, register-blocked fp32 GEMM for the CPU backend, parallel over
/// <see cref="WorkerPool.Shared"/>. See <see cref="GemmDriver{TKernel}"/> for the loop nest. Products with at most
/// <see cref="SkinnyGemm.MaxRows"/> rows of c take the weight-streaming <see cref="SkinnyGemm"/> instead.
/// </summary>
internal static unsafe class SimdGemm
{
    /// <summary>
    /// The widest path this hardware accelerates; what
    /// <see cref="Multiply(MatMulLayout, float*, float*, float*, int, int, int, bool)"/> uses.
    /// </summary>
    public static GemmPath BestPath { get; } =
        Vector512.IsHardwareAccelerated ? GemmPath.Vector512 :
        Vector256.IsHardwareAccelerated ? GemmPath.Vector256 :
        GemmPath.Scalar;

    /// <summary>
    /// c[m,n] = op(a)·op(b), or c += op(a)·op(b) when <paramref name="accumulate"/>.
    /// Row-major dense operands without leading-dimension padding; see <see cref="MatMulLayout"/>.
    /// </summary>
    /// <param name="layout">which operands are transposed</param>
    /// <param name="a">
    /// <see cref="MatMulLayout.ABt"/>, <see cref="MatMulLayout.AB"/>: [m, k]; <see cref="MatMulLayout.AtB"/>: [k, m]
    /// </param>
    /// <param name="b">
    /// <see cref="MatMulLayout.ABt"/>: [n, k]; <see cref="MatMulLayout.AB"/>, <see cref="MatMulLayout.AtB"/>: [k, n]
    /// </param>
    /// <param name="c">[m, n]; must not overlap a or b</param>
    /// <param name="m">rows of c</param>
    /// <param name="n">columns of c</param>
    /// <param name="k">depth of the product; 0 gives c = 0 (or leaves c unchanged when accumulating)</param>
    /// <param name="accumulate">add to c instead of overwriting it</param>
    /// <remarks>
    /// Allocates nothing after the first calls on a thread (packing buffers are cached per
    /// thread). Safe to call from several threads at once and from inside pool jobs (then
    /// it runs on the calling thread).
    /// </remarks>
    public static void Multiply(MatMulLayout layout, float* a, float* b, float* c, int m, int n, int k, bool accumulate) =>
        Multiply(BestPath, layout, a, b, c, m, n, k, accumulate);

    /// <summary>
    /// <see cref="Multiply(MatMulLayout, float*, float*, float*, int, int, int, bool)"/> on a chosen path
    /// (tests use it to check every path; a path the hardware does not accelerate is correct but slow).
    /// </summary>
    public static void Multiply(GemmPath path, MatMulLayout layout, float* a, float* b, float* c, int m, int n, int k, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (!Enum.IsDefined(layout))
            throw new ArgumentOutOfRangeException(nameof(layout), layout, "Unknown matrix layout.");
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) NativeMemory.Clear(c, (nuint)m * (nuint)n * sizeof(float));
            return;
        }
        if (m <= SkinnyGemm.MaxRows)
        {
            SkinnyGemm.Multiply(WorkerPool.Shared, path, layout, a, b, c, m, n, k, accumulate);
            return;
        }
        switch (path)
        {
            case GemmPath.Vector512:
                GemmDriver<MicroKernel512>.Multiply(layout, a, b, c, m, n, k, accumulate);
                break;
            case GemmPath.Vector256:
                GemmDriver<MicroKernel256>.Multiply(layout, a, b, c, m, n, k, accumulate);
                break;
            case GemmPath.Scalar:
                GemmDriver<MicroKernelScalar>.Multiply(layout, a, b, c, m, n, k, accumulate);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(path), path, "Unknown GEMM path.");
        }
    }
}
