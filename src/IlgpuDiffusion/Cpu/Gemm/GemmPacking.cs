using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// Copies blocks of op(a) and op(b) into the micro-kernel's panel formats, so that the
/// micro-kernel reads both operands with unit stride whatever the layout: transposes cost
/// only packing. Every layout reduces to two primitives: <see cref="PackRows"/> (the panel's
/// row p is contiguous in the source) and <see cref="PackTransposed"/> (the panel's column r
/// is contiguous in the source).
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs rows [row0, row0 + rows) and depth [pc, pc + kc) of op(a) (op(a) is [m, k]) into
    /// Mr-row micro-panels: dst [ceil(rows / Mr), kc, Mr], rows past the end zero-filled.
    /// </summary>
    /// <param name="a">ABt, AB: a [m, k]; AtB: a [k, m]</param>
    /// <param name="dst">64-byte aligned, ceil(rows / Mr)·Mr·kc floats</param>
    public static void PackA<TKernel>(MatMulLayout layout, float* a, int m, int k, int row0, int rows, int pc, int kc, float* dst)
        where TKernel : IMicroKernel
    {
        int mr = TKernel.Mr;
        for (int r = 0; r < rows; r += mr, dst += (long)kc * mr)
        {
            int count = Math.Min(mr, rows - r);
            if (layout == MatMulLayout.AtB)
                PackRows(a + (long)pc * m + row0 + r, m, count, mr, kc, dst);
            else
                PackTransposed(a + (long)(row0 + r) * k + pc, k, count, mr, kc, dst);
        }
    }

    /// <summary>
    /// Packs one Nr-column micro-panel of op(b) (op(b) is [k, n]): columns [col0, col0 + cols),
    /// depth [pc, pc + kc), into dst [kc, Nr], columns past the end zero-filled.
    /// </summary>
    /// <param name="b">ABt: b [n, k]; AB, AtB: b [k, n]</param>
    /// <param name="dst">64-byte aligned, kc·Nr floats</param>
    public static void PackB<TKernel>(MatMulLayout layout, float* b, int n, int k, int col0, int cols, int pc, int kc, float* dst)
        where TKernel : IMicroKernel
    {
        if (layout == MatMulLayout.ABt)
            PackTransposed(b + (long)col0 * k + pc, k, cols, TKernel.Nr, kc, dst);
        else
            PackRows(b + (long)pc * n + col0, n, cols, TKernel.Nr, kc, dst);
    }

    /// <summary>dst[p, j] = src[p·ld + j] for j &lt; count, 0 for count ≤ j &lt; width; p &lt; kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRows(float* src, long ld, int count, int width, int kc, float* dst)
    {
        for (int p = 0; p < kc; p++, src += ld, dst += width)
        {
            int j = 0;
            if (Vector128.IsHardwareAccelerated)
            {
                for (; j <= count - 4; j += 4)
                    Vector128.Store(Vector128.Load(src + j), dst + j);
            }
            for (; j < count; j++) dst[j] = src[j];
            for (; j < width; j++) dst[j] = 0;
        }
    }

    /// <summary>dst[p, r] = src[r·ld + p] for r &lt; count, 0 for count ≤ r &lt; width; p &lt; kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed(float* src, long ld, int count, int width, int kc, float* dst)
    {
        int r = 0;
        // Four source rows at a time: four reading streams, one written cache line per p.
        for (; r <= count - 4; r += 4)
        {
            float* s0 = src + r * ld, s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
            float* d = dst + r;
            for (int p = 0; p < kc; p++, d += width)
            {
                d[0] = s0[p];
                d[1] = s1[p];
                d[2] = s2[p];
                d[3] = s3[p];
            }
        }
        for (; r < count; r++)
        {
            float* s = src + r * ld, d = dst + r;
            for (int p = 0; p < kc; p++, d += width) *d = s[p];
        }
        for (; r < width; r++)
        {
            float* d = dst + r;
            for (int p = 0; p < kc; p++, d += width) *d = 0;
        }
    }
}
