using System.Runtime.CompilerServices;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// The skinny GEMM kernels at one SIMD width (see <see cref="SkinnyGemm"/>): weight-streaming loops that read every
/// element of b once from memory and reuse it from registers or L1 for the few rows of a.
/// </summary>
/// <remarks>
/// Every element of c is computed in an order fixed by (m, n, k, path) alone: which kernel variant or chunk covers it
/// does not change its bits, so results do not depend on the thread count.
/// <list type="bullet">
/// <item><see cref="DotRows"/> (ABt): c[i, j] = Σ_p a[i, p]·b[j, p] as one vector accumulator over the whole vectors of
/// the row, summed across lanes, then the leftover k % lanes terms added one by one.</item>
/// <item><see cref="AxpyColumns"/> (AB, AtB): c[i, j] = (accumulate ? c[i, j] : 0) + a(i, 0)·b[0, j] + a(i, 1)·b[1, j] + …
/// added strictly in order of p.</item>
/// </list>
/// One accumulator per dot product is enough: a 2×4 or 1×4 register tile keeps 4–8 independent FMA chains, which at
/// 4 cycles of latency still consume a 64-byte line of b per cycle, far more than memory delivers to a core.
/// </remarks>
internal static unsafe class SkinnyKernels<TLanes, TVector>
    where TLanes : struct, ISkinnyLanes<TVector>
    where TVector : struct
{
    /// <summary>
    /// ABt for the weight rows [row0, row1): c[i, j] (+)= a[i, :]·b[j, :] for every i &lt; m. Rows go four at a time
    /// (each vector of a loaded once serves four weight rows), rows of a two at a time (each weight vector serves both;
    /// the four weight rows, 16·k bytes, are re-read from L1 or L2 by the next pair).
    /// </summary>
    /// <param name="a">[m, k]</param>
    /// <param name="b">[n, k], the weight</param>
    /// <param name="c">[m, n]</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotRows(float* a, float* b, float* c, int m, int n, int k, int row0, int row1, bool accumulate)
    {
        int j = row0;
        for (; j + SkinnyGemm.WeightRowsPerStep <= row1; j += SkinnyGemm.WeightRowsPerStep)
        {
            float* w = b + (long)j * k;
            int i = 0;
            for (; i + 2 <= m; i += 2)
                Dot2x4(a + (long)i * k, a + (long)(i + 1) * k, w, k, c + (long)i * n + j, c + (long)(i + 1) * n + j, accumulate);
            if (i < m) Dot1x4(a + (long)i * k, w, k, c + (long)i * n + j, accumulate);
        }
        for (; j < row1; j++)
            for (int i = 0; i < m; i++)
                Put(c + (long)i * n + j, Dot(a + (long)i * k, b + (long)j * k, k), accumulate);
    }

    /// <summary>
    /// AB and AtB for the columns [col0, col1): c[i, col0..col1) (+)= Σ_p a(i, p)·b[p, col0..col1) for every i &lt; m, with
    /// a(i, p) = a[i·aRow + p·aDepth]. Rows of b go four at a time (four loads per column vector, then one load and store
    /// of c per row of a), rows of a two at a time with their eight factors held in registers.
    /// </summary>
    /// <param name="b">[k, n]</param>
    /// <param name="c">[m, n]</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AxpyColumns(float* a, long aRow, long aDepth, float* b, float* c, int m, int n, int k,
        int col0, int col1, bool accumulate)
    {
        if (!accumulate)
            for (int i = 0; i < m; i++)
                new Span<float>(c + (long)i * n + col0, col1 - col0).Clear();
        int p = 0;
        for (; p + 4 <= k; p += 4)
        {
            float* rows = b + (long)p * n;
            int i = 0;
            for (; i + 2 <= m; i += 2)
                Axpy2x4(a + i * aRow + p * aDepth, aRow, aDepth, rows, n, c + (long)i * n, col0, col1);
            if (i < m) Axpy1x4(a + i * aRow + p * aDepth, aDepth, rows, n, c + (long)i * n, col0, col1);
        }
        for (; p < k; p++)
            for (int i = 0; i < m; i++)
                Axpy(a[i * aRow + p * aDepth], b + (long)p * n, c + (long)i * n, col0, col1);
    }

    /// <summary>c0[0..4) and c1[0..4) (+)= a0 and a1 dotted with the four consecutive weight rows at w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot2x4(float* a0, float* a1, float* w, int k, float* c0, float* c1, bool accumulate)
    {
        float* w1 = w + k, w2 = w1 + k, w3 = w2 + k;
        TVector s00 = default, s01 = default, s02 = default, s03 = default;
        TVector s10 = default, s11 = default, s12 = default, s13 = default;
        int whole = k - k % TLanes.Count;
        for (int p = 0; p < whole; p += TLanes.Count)
        {
            TVector x0 = TLanes.Load(a0 + p), x1 = TLanes.Load(a1 + p);
            TVector y = TLanes.Load(w + p);
            s00 = TLanes.MultiplyAdd(x0, y, s00); s10 = TLanes.MultiplyAdd(x1, y, s10);
            y = TLanes.Load(w1 + p);
            s01 = TLanes.MultiplyAdd(x0, y, s01); s11 = TLanes.MultiplyAdd(x1, y, s11);
            y = TLanes.Load(w2 + p);
            s02 = TLanes.MultiplyAdd(x0, y, s02); s12 = TLanes.MultiplyAdd(x1, y, s12);
            y = TLanes.Load(w3 + p);
            s03 = TLanes.MultiplyAdd(x0, y, s03); s13 = TLanes.MultiplyAdd(x1, y, s13);
        }
        Put(c0, Finish(s00, a0, w, whole, k), accumulate); Put(c1, Finish(s10, a1, w, whole, k), accumulate);
        Put(c0 + 1, Finish(s01, a0, w1, whole, k), accumulate); Put(c1 + 1, Finish(s11, a1, w1, whole, k), accumulate);
        Put(c0 + 2, Finish(s02, a0, w2, whole, k), accumulate); Put(c1 + 2, Finish(s12, a1, w2, whole, k), accumulate);
        Put(c0 + 3, Finish(s03, a0, w3, whole, k), accumulate); Put(c1 + 3, Finish(s13, a1, w3, whole, k), accumulate);
    }

    /// <summary>c0[0..4) (+)= a0 dotted with the four consecutive weight rows at w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot1x4(float* a0, float* w, int k, float* c0, bool accumulate)
    {
        float* w1 = w + k, w2 = w1 + k, w3 = w2 + k;
        TVector s0 = default, s1 = default, s2 = default, s3 = default;
        int whole = k - k % TLanes.Count;
        for (int p = 0; p < whole; p += TLanes.Count)
        {
            TVector x = TLanes.Load(a0 + p);
            s0 = TLanes.MultiplyAdd(x, TLanes.Load(w + p), s0);
            s1 = TLanes.MultiplyAdd(x, TLanes.Load(w1 + p), s1);
            s2 = TLanes.MultiplyAdd(x, TLanes.Load(w2 + p), s2);
            s3 = TLanes.MultiplyAdd(x, TLanes.Load(w3 + p), s3);
        }
        Put(c0, Finish(s0, a0, w, whole, k), accumulate);
        Put(c0 + 1, Finish(s1, a0, w1, whole, k), accumulate);
        Put(c0 + 2, Finish(s2, a0, w2, whole, k), accumulate);
        Put(c0 + 3, Finish(s3, a0, w3, whole, k), accumulate);
    }

    /// <summary>One dot product x·y of length k, in the same order as the tiled variants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* x, float* y, int k)
    {
        TVector sum = default;
        int whole = k - k % TLanes.Count;
        for (int p = 0; p < whole; p += TLanes.Count)
            sum = TLanes.MultiplyAdd(TLanes.Load(x + p), TLanes.Load(y + p), sum);
        return Finish(sum, x, y, whole, k);
    }

    /// <summary>The lanes of <paramref name="sum"/> added up, then x[p]·y[p] for the leftover p in [whole, k).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(TVector sum, float* x, float* y, int whole, int k)
    {
        float total = TLanes.Sum(sum);
        for (int p = whole; p < k; p++) total += x[p] * y[p];
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, float value, bool accumulate) => *c = accumulate ? *c + value : value;

    /// <summary>
    /// Rows r = 0, 1 of c (c0 and c0 + n), columns [col0, col1): += Σ_q a(r, q)·rows[q, :] for q &lt; 4, in order of q,
    /// where a(r, q) = a[r·aRow + q·aDepth] and row q of b starts at rows + q·n.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy2x4(float* a, long aRow, long aDepth, float* rows, int n, float* c0, int col0, int col1)
    {
        float* r1 = rows + n, r2 = r1 + n, r3 = r2 + n, c1 = c0 + n;
        float* a1 = a + aRow;
        float f00 = a[0], f01 = a[aDepth], f02 = a[2 * aDepth], f03 = a[3 * aDepth];
        float f10 = a1[0], f11 = a1[aDepth], f12 = a1[2 * aDepth], f13 = a1[3 * aDepth];
        TVector x00 = TLanes.Broadcast(f00), x01 = TLanes.Broadcast(f01), x02 = TLanes.Broadcast(f02), x03 = TLanes.Broadcast(f03);
        TVector x10 = TLanes.Broadcast(f10), x11 = TLanes.Broadcast(f11), x12 = TLanes.Broadcast(f12), x13 = TLanes.Broadcast(f13);
        int j = col0, whole = col0 + (col1 - col0) / TLanes.Count * TLanes.Count;
        for (; j < whole; j += TLanes.Count)
        {
            TVector y0 = TLanes.Load(rows + j), y1 = TLanes.Load(r1 + j), y2 = TLanes.Load(r2 + j), y3 = TLanes.Load(r3 + j);
            TVector s = TLanes.Load(c0 + j);
            s = TLanes.MultiplyAdd(x00, y0, s); s = TLanes.MultiplyAdd(x01, y1, s);
            s = TLanes.MultiplyAdd(x02, y2, s); s = TLanes.MultiplyAdd(x03, y3, s);
            TLanes.Store(s, c0 + j);
            s = TLanes.Load(c1 + j);
            s = TLanes.MultiplyAdd(x10, y0, s); s = TLanes.MultiplyAdd(x11, y1, s);
            s = TLanes.MultiplyAdd(x12, y2, s); s = TLanes.MultiplyAdd(x13, y3, s);
            TLanes.Store(s, c1 + j);
        }
        for (; j < col1; j++)
        {
            c0[j] = c0[j] + f00 * rows[j] + f01 * r1[j] + f02 * r2[j] + f03 * r3[j];
            c1[j] = c1[j] + f10 * rows[j] + f11 * r1[j] + f12 * r2[j] + f13 * r3[j];
        }
    }

    /// <summary>c0 columns [col0, col1) += Σ_q a[q·aDepth]·rows[q, :] for q &lt; 4, in order of q (row q at rows + q·n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy1x4(float* a, long aDepth, float* rows, int n, float* c0, int col0, int col1)
    {
        float* r1 = rows + n, r2 = r1 + n, r3 = r2 + n;
        float f0 = a[0], f1 = a[aDepth], f2 = a[2 * aDepth], f3 = a[3 * aDepth];
        TVector x0 = TLanes.Broadcast(f0), x1 = TLanes.Broadcast(f1), x2 = TLanes.Broadcast(f2), x3 = TLanes.Broadcast(f3);
        int j = col0, whole = col0 + (col1 - col0) / TLanes.Count * TLanes.Count;
        for (; j < whole; j += TLanes.Count)
        {
            TVector s = TLanes.Load(c0 + j);
            s = TLanes.MultiplyAdd(x0, TLanes.Load(rows + j), s); s = TLanes.MultiplyAdd(x1, TLanes.Load(r1 + j), s);
            s = TLanes.MultiplyAdd(x2, TLanes.Load(r2 + j), s); s = TLanes.MultiplyAdd(x3, TLanes.Load(r3 + j), s);
            TLanes.Store(s, c0 + j);
        }
        for (; j < col1; j++)
            c0[j] = c0[j] + f0 * rows[j] + f1 * r1[j] + f2 * r2[j] + f3 * r3[j];
    }

    /// <summary>c0 columns [col0, col1) += factor·row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy(float factor, float* row, float* c0, int col0, int col1)
    {
        TVector x = TLanes.Broadcast(factor);
        int j = col0, whole = col0 + (col1 - col0) / TLanes.Count * TLanes.Count;
        for (; j < whole; j += TLanes.Count)
            TLanes.Store(TLanes.MultiplyAdd(x, TLanes.Load(row + j), TLanes.Load(c0 + j)), c0 + j);
        for (; j < col1; j++) c0[j] += factor * row[j];
    }
}
