using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// A register-blocked GEMM micro-kernel and the cache blocking that feeds it. The driver
/// (<see cref="GemmDriver{TKernel}"/>) is generic over this contract, so each SIMD width
/// gets its own fully specialized and inlined copy of the blocking loops.
/// </summary>
/// <remarks>
/// Operand formats (see <see cref="GemmPacking"/>):
/// a packed A micro-panel is [kc, Mr] (for each p, Mr consecutive rows of op(a));
/// a packed B micro-panel is [kc, Nr] (for each p, Nr consecutive columns of op(b)).
/// Both are 64-byte aligned and zero-padded to full Mr/Nr.
/// </remarks>
internal unsafe interface IMicroKernel
{
    /// <summary>Rows of the register tile (broadcast dimension).</summary>
    static abstract int Mr { get; }

    /// <summary>Columns of the register tile (vector dimension).</summary>
    static abstract int Nr { get; }

    /// <summary>Depth of a k block: a packed B micro-panel (Kc·Nr floats) should stay in L1.</summary>
    static abstract int Kc { get; }

    /// <summary>Rows of an m block: a packed A block (Mc·Kc floats) should stay in L2. A multiple of Mr.</summary>
    static abstract int Mc { get; }

    /// <summary>
    /// c[Mr, Nr] (row stride <paramref name="ldc"/>) = (accumulate ? c : 0) + Σ_p a[p, 0..Mr)ᵀ · b[p, 0..Nr).
    /// </summary>
    /// <param name="kc">depth, ≥ 1</param>
    /// <param name="a">packed A micro-panel [kc, Mr]</param>
    /// <param name="b">packed B micro-panel [kc, Nr]</param>
    /// <param name="c">top-left element of the C tile</param>
    static abstract void Run(int kc, float* a, float* b, float* c, int ldc, bool accumulate);
}

/// <summary>
/// AVX-512 micro-kernel: a 12×32 tile of C held in 24 zmm accumulators. Each step of p
/// loads two B vectors (32 columns), broadcasts 12 A values and issues 24 FMAs, so the two
/// FMA pipes stay busy while loads (2 vectors + 12 broadcasts) fit the load ports.
/// </summary>
internal readonly unsafe struct MicroKernel512 : IMicroKernel
{
    public static int Mr => 12;
    public static int Nr => 32;
    public static int Kc => 192; // B micro-panel 192·32·4 B = 24 KiB: half of the 48 KiB L1
    public static int Mc => 192; // A block 192·192·4 B = 144 KiB (L2 is 2 MiB); each B micro-panel serves 16 tiles

    /// <inheritdoc cref="IMicroKernel.Run"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        if (Sse.IsSupported)
        {
            // The C tile is usually out of L1 (often out of L2): start its 24 lines now so
            // the misses overlap the FMAs instead of stalling the final load/store.
            for (int i = 0; i < 12; i++)
            {
                Sse.Prefetch0(c + i * ldc);
                Sse.Prefetch0(c + i * ldc + 16);
            }
        }
        Vector512<float> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default;
        Vector512<float> c6_0 = default, c6_1 = default, c7_0 = default, c7_1 = default, c8_0 = default, c8_1 = default;
        Vector512<float> c9_0 = default, c9_1 = default, c10_0 = default, c10_1 = default, c11_0 = default, c11_1 = default;
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
