using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// AVX2-class micro-kernel: a 6×16 tile of C in 12 ymm accumulators, which with two B
/// vectors and one broadcast fits the 16 vector registers of x64 without AVX-512 (the
/// classic Haswell sgemm shape). <c>MultiplyAddEstimate</c> becomes one FMA where the
/// hardware has it and a multiply plus add elsewhere.
/// </summary>
internal readonly unsafe struct MicroKernel256 : IMicroKernel
{
    public static int Mr => 6;
    public static int Nr => 16;
    public static int Kc => 256; // B micro-panel 256·16·4 B = 16 KiB
    public static int Mc => 120; // A block 120·256·4 B = 120 KiB

    /// <inheritdoc cref="IMicroKernel.Run"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        Vector256<float> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default;
        Vector256<float> c3_0 = default, c3_1 = default, c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.LoadAligned(b);
            var b1 = Vector256.LoadAligned(b + 8);
            var a0 = Vector256.Create(a[0]);
            c0_0 = Vector256.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector256.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector256.Create(a[1]);
            c1_0 = Vector256.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector256.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector256.Create(a[2]);
            c2_0 = Vector256.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector256.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector256.Create(a[3]);
            c3_0 = Vector256.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector256.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector256.Create(a[4]);
            c4_0 = Vector256.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector256.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector256.Create(a[5]);
            c5_0 = Vector256.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector256.MultiplyAddEstimate(a5, b1, c5_1);
            a += 6;
            b += 16;
        }
        if (accumulate)
        {
            c0_0 += Vector256.Load(c + 0 * ldc); c0_1 += Vector256.Load(c + 0 * ldc + 8);
            c1_0 += Vector256.Load(c + 1 * ldc); c1_1 += Vector256.Load(c + 1 * ldc + 8);
            c2_0 += Vector256.Load(c + 2 * ldc); c2_1 += Vector256.Load(c + 2 * ldc + 8);
            c3_0 += Vector256.Load(c + 3 * ldc); c3_1 += Vector256.Load(c + 3 * ldc + 8);
            c4_0 += Vector256.Load(c + 4 * ldc); c4_1 += Vector256.Load(c + 4 * ldc + 8);
            c5_0 += Vector256.Load(c + 5 * ldc); c5_1 += Vector256.Load(c + 5 * ldc + 8);
        }
        Vector256.Store(c0_0, c + 0 * ldc); Vector256.Store(c0_1, c + 0 * ldc + 8);
        Vector256.Store(c1_0, c + 1 * ldc); Vector256.Store(c1_1, c + 1 * ldc + 8);
        Vector256.Store(c2_0, c + 2 * ldc); Vector256.Store(c2_1, c + 2 * ldc + 8);
        Vector256.Store(c3_0, c + 3 * ldc); Vector256.Store(c3_1, c + 3 * ldc + 8);
        Vector256.Store(c4_0, c + 4 * ldc); Vector256.Store(c4_1, c + 4 * ldc + 8);
        Vector256.Store(c5_0, c + 5 * ldc); Vector256.Store(c5_1, c + 5 * ldc + 8);
    }
}
