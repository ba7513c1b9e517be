using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using V16 = System.Runtime.Intrinsics.Vector512<float>;
using V8 = System.Runtime.Intrinsics.Vector256<float>;

namespace IlgpuDiffusion.Cpu.Attention;

/// <summary>What a tile product adds to: zero, the old C, or the old C scaled per column.</summary>
internal enum TileInit
{
    /// <summary>C = A·B.</summary>
    Zero,

    /// <summary>C += A·B.</summary>
    Accumulate,

    /// <summary>C = C·diag(scale) + A·B (the online-softmax rescale of the output accumulator).</summary>
    ScaleColumns,
}

/// <summary>
/// The one micro-kernel shape attention needs: C[i, j] = init(C[i, j]) + Σ_p A(i, p)·B[p, j] with
/// A read element by element through two strides (A(i, p) = a[i·aRow + p·aDepth], broadcast into a
/// register) and B read as contiguous rows of vectors. Strides let A be a row-major or transposed view
/// straight into qkv or a tile, so only the vector operand B is ever packed.
/// Register tiles: Vector512 6 (or 4) rows × 64 columns (24 or 16 accumulators), Vector256 4 rows × 16 columns.
/// </summary>
internal static unsafe class TileGemm
{
    /// <summary>C[m, n] = init(C) + A(m×k)·B[k, n]; n is a multiple of <see cref="Simd.Lane"/>.</summary>
    /// <param name="b">[k, ldb], the first n columns used</param>
    /// <param name="c">[m, ldc], the first n columns updated</param>
    /// <param name="scale">[n] column scale for <see cref="TileInit.ScaleColumns"/>, else unused</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(SimdLevel level, int m, int n, int k, float* a, long aRow, long aDepth,
        float* b, long ldb, float* c, long ldc, TileInit init, float* scale)
    {
        int j = 0;
        if (level == SimdLevel.Vector512)
            for (; j + 4 * Simd.Lane <= n; j += 4 * Simd.Lane)
            {
                // 6-row tiles, except that a remainder of 2 becomes 4 + 4 (m = 64: 6·10 + 4; m = 32: 6·4 + 4 + 4).
                int i = 0, sixEnd = m / 6 * 6;
                if (m % 6 == 2 && sixEnd > 0) sixEnd -= 6;
                for (; i < sixEnd; i += 6) Tile6x64(k, a + i * aRow, aRow, aDepth, b + j, ldb, c + i * ldc + j, ldc, init, scale + j);
                for (; i + 4 <= m; i += 4) Tile4x64(k, a + i * aRow, aRow, aDepth, b + j, ldb, c + i * ldc + j, ldc, init, scale + j);
                for (; i < m; i++) Tile1x64(k, a + i * aRow, aDepth, b + j, ldb, c + i * ldc + j, init, scale + j);
            }
        for (; j < n; j += Simd.Lane)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4)
                if (level == SimdLevel.Scalar)
                    TileScalar(4, k, a + i * aRow, aRow, aDepth, b + j, ldb, c + i * ldc + j, ldc, init, scale + j);
                else
                    Tile4x16(level, k, a + i * aRow, aRow, aDepth, b + j, ldb, c + i * ldc + j, ldc, init, scale + j);
            if (i < m) TileScalar(m - i, k, a + i * aRow, aRow, aDepth, b + j, ldb, c + i * ldc + j, ldc, init, scale + j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V16 Start(float* c, TileInit init, float* scale) => init switch
    {
        TileInit.Zero => V16.Zero,
        TileInit.Accumulate => Vector512.Load(c),
        _ => Vector512.Load(c) * Vector512.Load(scale),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V8 Start8(float* c, TileInit init, float* scale) => init switch
    {
        TileInit.Zero => V8.Zero,
        TileInit.Accumulate => Vector256.Load(c),
        _ => Vector256.Load(c) * Vector256.Load(scale),
    };

    // 6 rows × 64 columns: per depth step 4 vector loads of B, 6 broadcasts of A, 24 FMAs.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x64(int k, float* a, long aRow, long aDepth, float* b, long ldb, float* c, long ldc, TileInit init, float* s)
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        V16 r00 = Start(c, init, s), r01 = Start(c + 16, init, s + 16),
            r02 = Start(c + 32, init, s + 32), r03 = Start(c + 48, init, s + 48);
        V16 r10 = Start(c1, init, s), r11 = Start(c1 + 16, init, s + 16),
            r12 = Start(c1 + 32, init, s + 32), r13 = Start(c1 + 48, init, s + 48);
        V16 r20 = Start(c2, init, s), r21 = Start(c2 + 16, init, s + 16),
            r22 = Start(c2 + 32, init, s + 32), r23 = Start(c2 + 48, init, s + 48);
        V16 r30 = Start(c3, init, s), r31 = Start(c3 + 16, init, s + 16),
            r32 = Start(c3 + 32, init, s + 32), r33 = Start(c3 + 48, init, s + 48);
        V16 r40 = Start(c4, init, s), r41 = Start(c4 + 16, init, s + 16),
            r42 = Start(c4 + 32, init, s + 32), r43 = Start(c4 + 48, init, s + 48);
        V16 r50 = Start(c5, init, s), r51 = Start(c5 + 16, init, s + 16),
            r52 = Start(c5 + 32, init, s + 32), r53 = Start(c5 + 48, init, s + 48);
        for (int p = 0; p < k; p++)
        {
            float* ap = a + p * aDepth;
            V16 b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), b2 = Vector512.Load(b + 32), b3 = Vector512.Load(b + 48);
            V16 x = Vector512.Create(ap[0]);
            r00 = Vector512.FusedMultiplyAdd(x, b0, r00); r01 = Vector512.FusedMultiplyAdd(x, b1, r01);
            r02 = Vector512.FusedMultiplyAdd(x, b2, r02); r03 = Vector512.FusedMultiplyAdd(x, b3, r03);
            x = Vector512.Create(ap[aRow]);
            r10 = Vector512.FusedMultiplyAdd(x, b0, r10); r11 = Vector512.FusedMultiplyAdd(x, b1, r11);
            r12 = Vector512.FusedMultiplyAdd(x, b2, r12); r13 = Vector512.FusedMultiplyAdd(x, b3, r13);
            x = Vector512.Create(ap[2 * aRow]);
            r20 = Vector512.FusedMultiplyAdd(x, b0, r20); r21 = Vector512.FusedMultiplyAdd(x, b1, r21);
            r22 = Vector512.FusedMultiplyAdd(x, b2, r22); r23 = Vector512.FusedMultiplyAdd(x, b3, r23);
            x = Vector512.Create(ap[3 * aRow]);
            r30 = Vector512.FusedMultiplyAdd(x, b0, r30); r31 = Vector512.FusedMultiplyAdd(x, b1, r31);
            r32 = Vector512.FusedMultiplyAdd(x, b2, r32); r33 = Vector512.FusedMultiplyAdd(x, b3, r33);
            x = Vector512.Create(ap[4 * aRow]);
            r40 = Vector512.FusedMultiplyAdd(x, b0, r40); r41 = Vector512.FusedMultiplyAdd(x, b1, r41);
            r42 = Vector512.FusedMultiplyAdd(x, b2, r42); r43 = Vector512.FusedMultiplyAdd(x, b3, r43);
            x = Vector512.Create(ap[5 * aRow]);
            r50 = Vector512.FusedMultiplyAdd(x, b0, r50); r51 = Vector512.FusedMultiplyAdd(x, b1, r51);
            r52 = Vector512.FusedMultiplyAdd(x, b2, r52); r53 = Vector512.FusedMultiplyAdd(x, b3, r53);
            b += ldb;
        }
        r00.Store(c); r01.Store(c + 16); r02.Store(c + 32); r03.Store(c + 48);
        r10.Store(c1); r11.Store(c1 + 16); r12.Store(c1 + 32); r13.Store(c1 + 48);
        r20.Store(c2); r21.Store(c2 + 16); r22.Store(c2 + 32); r23.Store(c2 + 48);
        r30.Store(c3); r31.Store(c3 + 16); r32.Store(c3 + 32); r33.Store(c3 + 48);
        r40.Store(c4); r41.Store(c4 + 16); r42.Store(c4 + 32); r43.Store(c4 + 48);
        r50.Store(c5); r51.Store(c5 + 16); r52.Store(c5 + 32); r53.Store(c5 + 48);
    }

    // 4 rows × 64 columns: per depth step 4 vector loads of B, 4 broadcasts of A, 16 FMAs.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x64(int k, float* a, long aRow, long aDepth, float* b, long ldb, float* c, long ldc, TileInit init, float* s)
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        V16 r00 = Start(c, init, s), r01 = Start(c + 16, init, s + 16),
            r02 = Start(c + 32, init, s + 32), r03 = Start(c + 48, init, s + 48);
        V16 r10 = Start(c1, init, s), r11 = Start(c1 + 16, init, s + 16),
            r12 = Start(c1 + 32, init, s + 32), r13 = Start(c1 + 48, init, s + 48);
        V16 r20 = Start(c2, init, s), r21 = Start(c2 + 16, init, s + 16),
            r22 = Start(c2 + 32, init, s + 32), r23 = Start(c2 + 48, init, s + 48);
        V16 r30 = Start(c3, init, s), r31 = Start(c3 + 16, init, s + 16),
            r32 = Start(c3 + 32, init, s + 32), r33 = Start(c3 + 48, init, s + 48);
        float* a0 = a, a1 = a + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
        for (int p = 0; p < k; p++)
        {
            V16 b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), b2 = Vector512.Load(b + 32), b3 = Vector512.Load(b + 48);
            V16 x = Vector512.Create(*a0);
            r00 = Vector512.FusedMultiplyAdd(x, b0, r00); r01 = Vector512.FusedMultiplyAdd(x, b1, r01);
            r02 = Vector512.FusedMultiplyAdd(x, b2, r02); r03 = Vector512.FusedMultiplyAdd(x, b3, r03);
            x = Vector512.Create(*a1);
            r10 = Vector512.FusedMultiplyAdd(x, b0, r10); r11 = Vector512.FusedMultiplyAdd(x, b1, r11);
            r12 = Vector512.FusedMultiplyAdd(x, b2, r12); r13 = Vector512.FusedMultiplyAdd(x, b3, r13);
            x = Vector512.Create(*a2);
            r20 = Vector512.FusedMultiplyAdd(x, b0, r20); r21 = Vector512.FusedMultiplyAdd(x, b1, r21);
            r22 = Vector512.FusedMultiplyAdd(x, b2, r22); r23 = Vector512.FusedMultiplyAdd(x, b3, r23);
            x = Vector512.Create(*a3);
            r30 = Vector512.FusedMultiplyAdd(x, b0, r30); r31 = Vector512.FusedMultiplyAdd(x, b1, r31);
            r32 = Vector512.FusedMultiplyAdd(x, b2, r32); r33 = Vector512.FusedMultiplyAdd(x, b3, r33);
            a0 += aDepth; a1 += aDepth; a2 += aDepth; a3 += aDepth; b += ldb;
        }
        r00.Store(c); r01.Store(c + 16); r02.Store(c + 32); r03.Store(c + 48);
        r10.Store(c1); r11.Store(c1 + 16); r12.Store(c1 + 32); r13.Store(c1 + 48);
        r20.Store(c2); r21.Store(c2 + 16); r22.Store(c2 + 32); r23.Store(c2 + 48);
        r30.Store(c3); r31.Store(c3 + 16); r32.Store(c3 + 32); r33.Store(c3 + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x64(int k, float* a, long aDepth, float* b, long ldb, float* c, TileInit init, float* s)
    {
        V16 r0 = Start(c, init, s), r1 = Start(c + 16, init, s + 16), r2 = Start(c + 32, init, s + 32), r3 = Start(c + 48, init, s + 48);
        for (int p = 0; p < k; p++)
        {
            V16 x = Vector512.Create(*a);
            r0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b), r0); r1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 16), r1);
            r2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 32), r2); r3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 48), r3);
            a += aDepth; b += ldb;
        }
        r0.Store(c); r1.Store(c + 16); r2.Store(c + 32); r3.Store(c + 48);
    }

    // 4 rows × 16 columns: one Vector512 or two Vector256 per row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x16(SimdLevel level, int k, float* a, long aRow, long aDepth, float* b, long ldb, float* c, long ldc,
        TileInit init, float* s)
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        float* a0 = a, a1 = a + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
        if (level == SimdLevel.Vector512)
        {
            V16 r0 = Start(c, init, s), r1 = Start(c1, init, s), r2 = Start(c2, init, s), r3 = Start(c3, init, s);
            for (int p = 0; p < k; p++)
            {
                V16 bv = Vector512.Load(b);
                r0 = Vector512.FusedMultiplyAdd(Vector512.Create(*a0), bv, r0);
                r1 = Vector512.FusedMultiplyAdd(Vector512.Create(*a1), bv, r1);
                r2 = Vector512.FusedMultiplyAdd(Vector512.Create(*a2), bv, r2);
                r3 = Vector512.FusedMultiplyAdd(Vector512.Create(*a3), bv, r3);
                a0 += aDepth; a1 += aDepth; a2 += aDepth; a3 += aDepth; b += ldb;
            }
            r0.Store(c); r1.Store(c1); r2.Store(c2); r3.Store(c3);
            return;
        }
        V8 l0 = Start8(c, init, s), h0 = Start8(c + 8, init, s + 8), l1 = Start8(c1, init, s), h1 = Start8(c1 + 8, init, s + 8);
        V8 l2 = Start8(c2, init, s), h2 = Start8(c2 + 8, init, s + 8), l3 = Start8(c3, init, s), h3 = Start8(c3 + 8, init, s + 8);
        for (int p = 0; p < k; p++)
        {
            V8 bl = Vector256.Load(b), bh = Vector256.Load(b + 8);
            V8 x = Vector256.Create(*a0); l0 = Vector256.FusedMultiplyAdd(x, bl, l0); h0 = Vector256.FusedMultiplyAdd(x, bh, h0);
            x = Vector256.Create(*a1); l1 = Vector256.FusedMultiplyAdd(x, bl, l1); h1 = Vector256.FusedMultiplyAdd(x, bh, h1);
            x = Vector256.Create(*a2); l2 = Vector256.FusedMultiplyAdd(x, bl, l2); h2 = Vector256.FusedMultiplyAdd(x, bh, h2);
            x = Vector256.Create(*a3); l3 = Vector256.FusedMultiplyAdd(x, bl, l3); h3 = Vector256.FusedMultiplyAdd(x, bh, h3);
            a0 += aDepth; a1 += aDepth; a2 += aDepth; a3 += aDepth; b += ldb;
        }
        l0.Store(c); h0.Store(c + 8); l1.Store(c1); h1.Store(c1 + 8);
        l2.Store(c2); h2.Store(c2 + 8); l3.Store(c3); h3.Store(c3 + 8);
    }

    // Any rows × 16 columns in scalar code: the row tail at every level and everything at SimdLevel.Scalar.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileScalar(int rows, int k, float* a, long aRow, long aDepth, float* b, long ldb, float* c, long ldc,
        TileInit init, float* s)
    {
        float* sum = stackalloc float[Simd.Lane];
        for (int i = 0; i < rows; i++)
        {
            float* ci = c + i * ldc;
            for (int j = 0; j < Simd.Lane; j++)
                sum[j] = init switch { TileInit.Zero => 0f, TileInit.Accumulate => ci[j], _ => ci[j] * s[j] };
            float* ai = a + i * aRow, bp = b;
            for (int p = 0; p < k; p++, ai += aDepth, bp += ldb)
            {
                float x = *ai;
                for (int j = 0; j < Simd.Lane; j++) sum[j] = MathF.FusedMultiplyAdd(x, bp[j], sum[j]);
            }
            for (int j = 0; j < Simd.Lane; j++) ci[j] = sum[j];
        }
    }
}
