using System.Runtime.CompilerServices;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// Portable fallback for hardware without 256/512-bit SIMD: a 4×4 tile of C in 16 scalar
/// accumulators. Same packed formats and blocking as the vector kernels.
/// </summary>
internal readonly unsafe struct MicroKernelScalar : IMicroKernel
{
    public static int Mr => 4;
    public static int Nr => 4;
    public static int Kc => 256;
    public static int Mc => 64;

    /// <inheritdoc cref="IMicroKernel.Run"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            a += 4;
            b += 4;
        }
        if (accumulate)
        {
            c00 += c[0]; c01 += c[1]; c02 += c[2]; c03 += c[3];
            float* r = c + ldc;
            c10 += r[0]; c11 += r[1]; c12 += r[2]; c13 += r[3];
            r += ldc;
            c20 += r[0]; c21 += r[1]; c22 += r[2]; c23 += r[3];
            r += ldc;
            c30 += r[0]; c31 += r[1]; c32 += r[2]; c33 += r[3];
        }
        c[0] = c00; c[1] = c01; c[2] = c02; c[3] = c03;
        c += ldc;
        c[0] = c10; c[1] = c11; c[2] = c12; c[3] = c13;
        c += ldc;
        c[0] = c20; c[1] = c21; c[2] = c22; c[3] = c23;
        c += ldc;
        c[0] = c30; c[1] = c31; c[2] = c32; c[3] = c33;
    }
}
