using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// Copies blocks of op(a) and op(b) into the micro-kernel's panel formats, so that the
/// micro-kernel reads both operands with unit stride whatever the layout: transposes cost
/// only packing. Every layout reduces to two primitives: <see cref="PackRowPanels"/> (a
/// panel's row p is contiguous in the source) and <see cref="PackTransposed"/> (a panel's
/// column is contiguous in the source).
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
        if (layout == MatMulLayout.AtB)
        {
            PackRowPanels(a + (long)pc * m + row0, m, rows, mr, kc, dst);
            return;
        }
        for (int r = 0; r < rows; r += mr, dst += (long)kc * mr)
            PackTransposed(a + (long)(row0 + r) * k + pc, k, Math.Min(mr, rows - r), mr, kc, dst);
    }

    /// <summary>
    /// Packs columns [col0, col0 + cols) and depth [pc, pc + kc) of op(b) (op(b) is [k, n]) into
    /// Nr-column micro-panels: dst [ceil(cols / Nr), kc, Nr], columns past the end zero-filled.
    /// </summary>
    /// <param name="b">ABt: b [n, k]; AB, AtB: b [k, n]</param>
    /// <param name="dst">64-byte aligned, ceil(cols / Nr)·Nr·kc floats</param>
    public static void PackB<TKernel>(MatMulLayout layout, float* b, int n, int k, int col0, int cols, int pc, int kc, float* dst)
        where TKernel : IMicroKernel
    {
        int nr = TKernel.Nr;
        if (layout != MatMulLayout.ABt)
        {
            PackRowPanels(b + (long)pc * n + col0, n, cols, nr, kc, dst);
            return;
        }
        for (int j = 0; j < cols; j += nr, dst += (long)kc * nr)
            PackTransposed(b + (long)(col0 + j) * k + pc, k, Math.Min(nr, cols - j), nr, kc, dst);
    }

    /// <summary>
    /// Panel q [kc, width] at dst + q·kc·width gets dst[p, j] = src[p·ld + q·width + j] where
    /// q·width + j &lt; count, else 0. Walks the source row by row, touching one page per row
    /// for all panels rather than one per row and panel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowPanels(float* src, long ld, int count, int width, int kc, float* dst)
    {
        int panels = (count + width - 1) / width;
        long panelSize = (long)kc * width;
        for (int p = 0; p < kc; p++, src += ld)
        {
            float* d = dst + (long)p * width;
            for (int q = 0; q < panels; q++, d += panelSize)
            {
                float* s = src + q * width;
                int valid = Math.Min(width, count - q * width), j = 0;
                if (Vector128.IsHardwareAccelerated)
                {
                    for (; j <= valid - 4; j += 4)
                        Vector128.Store(Vector128.Load(s + j), d + j);
                }
                for (; j < valid; j++) d[j] = s[j];
                for (; j < width; j++) d[j] = 0;
            }
        }
    }

    /// <summary>dst[p, r] = src[r·ld + p] for r &lt; count, 0 for count ≤ r &lt; width; p &lt; kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed(float* src, long ld, int count, int width, int kc, float* dst)
    {
        int r = 0;
        // Four source rows at a time: four reading streams, 4×4 blocks transposed in registers.
        for (; r <= count - 4; r += 4)
        {
            float* s0 = src + r * ld, s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
            float* d = dst + r;
            int p = 0;
            if (Sse.IsSupported)
            {
                for (; p <= kc - 4; p += 4, d += 4 * width)
                    Transpose4x4(Sse.LoadVector128(s0 + p), Sse.LoadVector128(s1 + p), Sse.LoadVector128(s2 + p), Sse.LoadVector128(s3 + p),
                        d, width);
            }
            for (; p < kc; p++, d += width)
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

    /// <summary>Rows x0..x3 (4 floats each) stored as columns: d[i·width + j] = x_j[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(Vector128<float> x0, Vector128<float> x1, Vector128<float> x2, Vector128<float> x3,
        float* d, int width)
    {
        var t0 = Sse.UnpackLow(x0, x1);   // x0[0] x1[0] x0[1] x1[1]
        var t1 = Sse.UnpackLow(x2, x3);   // x2[0] x3[0] x2[1] x3[1]
        var t2 = Sse.UnpackHigh(x0, x1);  // x0[2] x1[2] x0[3] x1[3]
        var t3 = Sse.UnpackHigh(x2, x3);  // x2[2] x3[2] x2[3] x3[3]
        Sse.Store(d, Sse.MoveLowToHigh(t0, t1));
        Sse.Store(d + width, Sse.MoveHighToLow(t1, t0));
        Sse.Store(d + 2 * width, Sse.MoveLowToHigh(t2, t3));
        Sse.Store(d + 3 * width, Sse.MoveHighToLow(t3, t2));
    }
}
