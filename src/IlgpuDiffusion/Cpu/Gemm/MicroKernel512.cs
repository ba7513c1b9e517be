using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// AVX-512 micro-kernel: a 12×32 tile of C held in 24 zmm accumulators. Each step of p
/// loads two B vectors (32 columns), broadcasts 12 A values and issues 24 FMAs, so the two
/// FMA pipes stay busy while loads (2 vectors + 12 broadcasts) fit the load ports.
/// </summary>
internal readonly unsafe struct MicroKernel512 : IMicroKernel
{
    public static int Mr => 12;
    public static int Nr => 32;
    public static int Kc => 256; // B micro-panel 256·32·4 B = 32 KiB (L1 is 48 KiB)
    public static int Mc => 144; // A block 144·256·4 B = 144 KiB (L2 is 2 MiB)

    /// <inheritdoc cref="IMicroKernel.Run"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        Vector512<float> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default, c3_0 = default, c3_1 = default;
        Vector512<float> c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default, c6_0 = default, c6_1 = default, c7_0 = default, c7_1 = default;
        Vector512<float> c8_0 = default, c8_1 = default, c9_0 = default, c9_1 = default, c10_0 = default, c10_1 = default, c11_0 = default, c11_1 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.LoadAligned(b);
            var b1 = Vector512.LoadAligned(b + 16);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1);
            var a4 = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1);
            var a5 = Vector512.Create(a[5]);
            c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1);
            var a6 = Vector512.Create(a[6]);
            c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1);
            var a7 = Vector512.Create(a[7]);
            c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1);
            var a8 = Vector512.Create(a[8]);
            c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1);
            var a9 = Vector512.Create(a[9]);
            c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1);
            var a10 = Vector512.Create(a[10]);
            c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1);
            var a11 = Vector512.Create(a[11]);
            c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1);
            a += 12;
            b += 32;
        }
        if (accumulate)
        {
            c0_0 += Vector512.Load(c + 0 * ldc); c0_1 += Vector512.Load(c + 0 * ldc + 16);
            c1_0 += Vector512.Load(c + 1 * ldc); c1_1 += Vector512.Load(c + 1 * ldc + 16);
            c2_0 += Vector512.Load(c + 2 * ldc); c2_1 += Vector512.Load(c + 2 * ldc + 16);
            c3_0 += Vector512.Load(c + 3 * ldc); c3_1 += Vector512.Load(c + 3 * ldc + 16);
            c4_0 += Vector512.Load(c + 4 * ldc); c4_1 += Vector512.Load(c + 4 * ldc + 16);
            c5_0 += Vector512.Load(c + 5 * ldc); c5_1 += Vector512.Load(c + 5 * ldc + 16);
            c6_0 += Vector512.Load(c + 6 * ldc); c6_1 += Vector512.Load(c + 6 * ldc + 16);
            c7_0 += Vector512.Load(c + 7 * ldc); c7_1 += Vector512.Load(c + 7 * ldc + 16);
            c8_0 += Vector512.Load(c + 8 * ldc); c8_1 += Vector512.Load(c + 8 * ldc + 16);
            c9_0 += Vector512.Load(c + 9 * ldc); c9_1 += Vector512.Load(c + 9 * ldc + 16);
            c10_0 += Vector512.Load(c + 10 * ldc); c10_1 += Vector512.Load(c + 10 * ldc + 16);
            c11_0 += Vector512.Load(c + 11 * ldc); c11_1 += Vector512.Load(c + 11 * ldc + 16);
        }
        Vector512.Store(c0_0, c + 0 * ldc); Vector512.Store(c0_1, c + 0 * ldc + 16);
        Vector512.Store(c1_0, c + 1 * ldc); Vector512.Store(c1_1, c + 1 * ldc + 16);
        Vector512.Store(c2_0, c + 2 * ldc); Vector512.Store(c2_1, c + 2 * ldc + 16);
        Vector512.Store(c3_0, c + 3 * ldc); Vector512.Store(c3_1, c + 3 * ldc + 16);
        Vector512.Store(c4_0, c + 4 * ldc); Vector512.Store(c4_1, c + 4 * ldc + 16);
        Vector512.Store(c5_0, c + 5 * ldc); Vector512.Store(c5_1, c + 5 * ldc + 16);
        Vector512.Store(c6_0, c + 6 * ldc); Vector512.Store(c6_1, c + 6 * ldc + 16);
        Vector512.Store(c7_0, c + 7 * ldc); Vector512.Store(c7_1, c + 7 * ldc + 16);
        Vector512.Store(c8_0, c + 8 * ldc); Vector512.Store(c8_1, c + 8 * ldc + 16);
        Vector512.Store(c9_0, c + 9 * ldc); Vector512.Store(c9_1, c + 9 * ldc + 16);
        Vector512.Store(c10_0, c + 10 * ldc); Vector512.Store(c10_1, c + 10 * ldc + 16);
        Vector512.Store(c11_0, c + 11 * ldc); Vector512.Store(c11_1, c + 11 * ldc + 16);
    }
}
