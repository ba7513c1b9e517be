using System.Runtime.CompilerServices;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// The skinny GEMM kernels at one SIMD width (see <see cref="SkinnyGemm"/>): loops that read every element of b once
/// from memory, with no packed copy of b, and reuse it from registers or L1 for the few rows of a.
/// </summary>
/// <remarks>
/// Every element of c gets exactly the bits the blocked path (<see cref="GemmDriver{TKernel}"/>) gives it, whatever m:
/// over each depth block of <see cref="ISkinnyLanes{TVector}.DepthBlock"/> in turn, S = a(i, p)·b(p, j) multiply-added
/// from zero strictly in order of p, then c = S for the first block when not accumulating, else c = c + S. So a row of c
/// does not depend on which rows it is computed with (a head on a few selected rows equals the full head on them, a
/// cached decoding step equals the full forward), on the path chosen by m, or on the chunking (the thread count).
/// </remarks>
internal static unsafe class SkinnyKernels<TLanes, TVector>
    where TLanes : struct, ISkinnyLanes<TVector>
    where TVector : struct
{
    /// <summary>AB, AtB: columns of c summed per pass over a depth block; the partial sums of ≤ 8 rows stay in L1.</summary>
    private const int TileColumns = 512;

    /// <summary>
    /// ABt for the weight rows [row0, row1): c[i, j] (+)= a[i, :]·b[j, :] for every i &lt; m. The weight goes in panels of
    /// two vectors of rows; each depth block of a panel is transposed in registers into an L1 tile [kc, 2·lanes], which
    /// register tiles of 4, 2 and 1 rows of a then read one vector pair per p, as the blocked micro-kernel reads its
    /// packed B micro-panel.
    /// </summary>
    /// <param name="a">[m, k]</param>
    /// <param name="b">[n, k], the weight</param>
    /// <param name="c">[m, n]</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotRows(float* a, float* b, float* c, int m, int n, int k, int row0, int row1, bool accumulate)
    {
        int nr = 2 * TLanes.Count, kcMax = TLanes.DepthBlock;
        float* panel = stackalloc float[kcMax * nr];
        float* edge = stackalloc float[nr];
        for (int j = row0; j < row1; j += nr)
        {
            int rows = Math.Min(nr, row1 - j);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                PackPanel(b + (long)j * k + pc, k, rows, kc, panel);
                bool add = accumulate || pc > 0;
                int i = 0;
                for (; i + 4 <= m; i += 4) Rows4(a + (long)i * k + pc, k, panel, kc, c + (long)i * n + j, n, rows, add, edge);
                if (i + 2 <= m)
                {
                    Rows2(a + (long)i * k + pc, k, panel, kc, c + (long)i * n + j, n, rows, add, edge);
                    i += 2;
                }
                if (i < m) Rows1(a + (long)i * k + pc, panel, kc, c + (long)i * n + j, rows, add, edge);
            }
        }
    }

    /// <summary>
    /// AB and AtB for the columns [col0, col1): c[i, col0..col1) (+)= Σ_p a(i, p)·b[p, col0..col1) for every i &lt; m ≤
    /// <see cref="SkinnyGemm.MaxRows"/>, with a(i, p) = a[i·aRow + p·aDepth]. Per tile of columns and depth block, rows
    /// of b stream in order, four at a time; the block's sums build up in c itself (first block, overwriting) or in an
    /// L1 tile that is then added to c.
    /// </summary>
    /// <param name="b">[k, n]</param>
    /// <param name="c">[m, n]</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AxpyColumns(float* a, long aRow, long aDepth, float* b, float* c, int m, int n, int k,
        int col0, int col1, bool accumulate)
    {
        int kcMax = TLanes.DepthBlock;
        float* partial = stackalloc float[SkinnyGemm.MaxRows * TileColumns];
        for (int t0 = col0; t0 < col1; t0 += TileColumns)
        {
            int t1 = Math.Min(col1, t0 + TileColumns);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int end = pc + Math.Min(kcMax, k - pc);
                bool add = accumulate || pc > 0;
                // Sums row i, column j at s[i·ls + j].
                float* s = add ? partial - t0 : c;
                long ls = add ? TileColumns : n;
                for (int i = 0; i < m; i++) new Span<float>(s + i * ls + t0, t1 - t0).Clear();
                int p = pc;
                for (; p + 4 <= end; p += 4)
                {
                    float* rows = b + (long)p * n;
                    int i = 0;
                    for (; i + 2 <= m; i += 2) Axpy2x4(a + i * aRow + p * aDepth, aRow, aDepth, rows, n, s + i * ls, ls, t0, t1);
                    if (i < m) Axpy1x4(a + i * aRow + p * aDepth, aDepth, rows, n, s + i * ls, t0, t1);
                }
                for (; p < end; p++)
                    for (int i = 0; i < m; i++)
                        Axpy(a[i * aRow + p * aDepth], b + (long)p * n, s + i * ls, t0, t1);
                if (add)
                    for (int i = 0; i < m; i++) AddInto(s + i * ls, c + (long)i * n, t0, t1);
            }
        }
    }

    /// <summary>
    /// panel[p·2L + r] = w[r·k + p] for p &lt; kc and r &lt; rows, zero for rows ≤ r &lt; 2L (L lanes): rows of the weight
    /// become columns of the tile. Full panels transpose L×L blocks in registers; the last panel, if partial, goes element
    /// by element.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanel(float* w, int k, int rows, int kc, float* panel)
    {
        int lanes = TLanes.Count, nr = 2 * lanes, p = 0;
        if (rows == nr)
        {
            for (; p + lanes <= kc; p += lanes)
            {
                TLanes.Transpose(w + p, k, panel + p * nr, nr);
                TLanes.Transpose(w + (long)lanes * k + p, k, panel + p * nr + lanes, nr);
            }
        }
        for (; p < kc; p++)
            for (int r = 0; r < nr; r++)
                panel[p * nr + r] = r < rows ? w[(long)r * k + p] : 0f;
    }

    /// <summary>Four rows of a (stride k) against a panel tile: c rows (stride n) get their 2L-column block sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4(float* a, int k, float* panel, int kc, float* c, int n, int rows, bool add, float* edge)
    {
        int lanes = TLanes.Count, nr = 2 * lanes;
        float* a1 = a + k, a2 = a1 + k, a3 = a2 + k;
        TVector s00 = default, s01 = default, s10 = default, s11 = default;
        TVector s20 = default, s21 = default, s30 = default, s31 = default;
        for (int p = 0; p < kc; p++)
        {
            TVector t0 = TLanes.Load(panel + p * nr), t1 = TLanes.Load(panel + p * nr + lanes);
            TVector x = TLanes.Broadcast(a[p]);
            s00 = TLanes.MultiplyAdd(x, t0, s00); s01 = TLanes.MultiplyAdd(x, t1, s01);
            x = TLanes.Broadcast(a1[p]);
            s10 = TLanes.MultiplyAdd(x, t0, s10); s11 = TLanes.MultiplyAdd(x, t1, s11);
            x = TLanes.Broadcast(a2[p]);
            s20 = TLanes.MultiplyAdd(x, t0, s20); s21 = TLanes.MultiplyAdd(x, t1, s21);
            x = TLanes.Broadcast(a3[p]);
            s30 = TLanes.MultiplyAdd(x, t0, s30); s31 = TLanes.MultiplyAdd(x, t1, s31);
        }
        Put(s00, s01, c, rows, add, edge);
        Put(s10, s11, c + n, rows, add, edge);
        Put(s20, s21, c + 2L * n, rows, add, edge);
        Put(s30, s31, c + 3L * n, rows, add, edge);
    }

    /// <summary><see cref="Rows4"/> for two rows of a.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows2(float* a, int k, float* panel, int kc, float* c, int n, int rows, bool add, float* edge)
    {
        int lanes = TLanes.Count, nr = 2 * lanes;
        float* a1 = a + k;
        TVector s00 = default, s01 = default, s10 = default, s11 = default;
        for (int p = 0; p < kc; p++)
        {
            TVector t0 = TLanes.Load(panel + p * nr), t1 = TLanes.Load(panel + p * nr + lanes);
            TVector x = TLanes.Broadcast(a[p]);
            s00 = TLanes.MultiplyAdd(x, t0, s00); s01 = TLanes.MultiplyAdd(x, t1, s01);
            x = TLanes.Broadcast(a1[p]);
            s10 = TLanes.MultiplyAdd(x, t0, s10); s11 = TLanes.MultiplyAdd(x, t1, s11);
        }
        Put(s00, s01, c, rows, add, edge);
        Put(s10, s11, c + n, rows, add, edge);
    }

    /// <summary><see cref="Rows4"/> for one row of a.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows1(float* a, float* panel, int kc, float* c, int rows, bool add, float* edge)
    {
        int lanes = TLanes.Count, nr = 2 * lanes;
        TVector s0 = default, s1 = default;
        for (int p = 0; p < kc; p++)
        {
            TVector x = TLanes.Broadcast(a[p]);
            s0 = TLanes.MultiplyAdd(x, TLanes.Load(panel + p * nr), s0);
            s1 = TLanes.MultiplyAdd(x, TLanes.Load(panel + p * nr + lanes), s1);
        }
        Put(s0, s1, c, rows, add, edge);
    }

    /// <summary>c[0..rows) = sums (or c + sums when adding); the sums are two vectors, of which the first rows count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(TVector low, TVector high, float* c, int rows, bool add, float* edge)
    {
        int lanes = TLanes.Count;
        if (rows == 2 * lanes)
        {
            if (add)
            {
                low = TLanes.Add(low, TLanes.Load(c));
                high = TLanes.Add(high, TLanes.Load(c + lanes));
            }
            TLanes.Store(low, c);
            TLanes.Store(high, c + lanes);
            return;
        }
        TLanes.Store(low, edge);
        TLanes.Store(high, edge + lanes);
        for (int r = 0; r < rows; r++) c[r] = add ? edge[r] + c[r] : edge[r];
    }

    /// <summary>
    /// Sum rows r = 0, 1 (s0 and s0 + ls), columns [col0, col1): s += a(r, q)·rows[q, :] for q = 0..3 in order, where
    /// a(r, q) = a[r·aRow + q·aDepth] and row q of b starts at rows + q·n.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy2x4(float* a, long aRow, long aDepth, float* rows, int n, float* s0, long ls, int col0, int col1)
    {
        float* r1 = rows + n, r2 = r1 + n, r3 = r2 + n, s1 = s0 + ls;
        float* a1 = a + aRow;
        float f00 = a[0], f01 = a[aDepth], f02 = a[2 * aDepth], f03 = a[3 * aDepth];
        float f10 = a1[0], f11 = a1[aDepth], f12 = a1[2 * aDepth], f13 = a1[3 * aDepth];
        TVector x00 = TLanes.Broadcast(f00), x01 = TLanes.Broadcast(f01), x02 = TLanes.Broadcast(f02), x03 = TLanes.Broadcast(f03);
        TVector x10 = TLanes.Broadcast(f10), x11 = TLanes.Broadcast(f11), x12 = TLanes.Broadcast(f12), x13 = TLanes.Broadcast(f13);
        int j = col0, whole = col0 + (col1 - col0) / TLanes.Count * TLanes.Count;
        for (; j < whole; j += TLanes.Count)
        {
            TVector y0 = TLanes.Load(rows + j), y1 = TLanes.Load(r1 + j), y2 = TLanes.Load(r2 + j), y3 = TLanes.Load(r3 + j);
            TVector v = TLanes.Load(s0 + j);
            v = TLanes.MultiplyAdd(x00, y0, v); v = TLanes.MultiplyAdd(x01, y1, v);
            v = TLanes.MultiplyAdd(x02, y2, v); v = TLanes.MultiplyAdd(x03, y3, v);
            TLanes.Store(v, s0 + j);
            v = TLanes.Load(s1 + j);
            v = TLanes.MultiplyAdd(x10, y0, v); v = TLanes.MultiplyAdd(x11, y1, v);
            v = TLanes.MultiplyAdd(x12, y2, v); v = TLanes.MultiplyAdd(x13, y3, v);
            TLanes.Store(v, s1 + j);
        }
        for (; j < col1; j++)
        {
            float v = TLanes.MultiplyAddLane(f00, rows[j], s0[j]);
            v = TLanes.MultiplyAddLane(f01, r1[j], v);
            v = TLanes.MultiplyAddLane(f02, r2[j], v);
            s0[j] = TLanes.MultiplyAddLane(f03, r3[j], v);
            v = TLanes.MultiplyAddLane(f10, rows[j], s1[j]);
            v = TLanes.MultiplyAddLane(f11, r1[j], v);
            v = TLanes.MultiplyAddLane(f12, r2[j], v);
            s1[j] = TLanes.MultiplyAddLane(f13, r3[j], v);
        }
    }

    /// <summary>Sum row s0, columns [col0, col1): += a[q·aDepth]·rows[q, :] for q = 0..3 in order (row q at rows + q·n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy1x4(float* a, long aDepth, float* rows, int n, float* s0, int col0, int col1)
    {
        float* r1 = rows + n, r2 = r1 + n, r3 = r2 + n;
        float f0 = a[0], f1 = a[aDepth], f2 = a[2 * aDepth], f3 = a[3 * aDepth];
        TVector x0 = TLanes.Broadcast(f0), x1 = TLanes.Broadcast(f1), x2 = TLanes.Broadcast(f2), x3 = TLanes.Broadcast(f3);
        int j = col0, whole = col0 + (col1 - col0) / TLanes.Count * TLanes.Count;
        for (; j < whole; j += TLanes.Count)
        {
            TVector v = TLanes.Load(s0 + j);
            v = TLanes.MultiplyAdd(x0, TLanes.Load(rows + j), v); v = TLanes.MultiplyAdd(x1, TLanes.Load(r1 + j), v);
            v = TLanes.MultiplyAdd(x2, TLanes.Load(r2 + j), v); v = TLanes.MultiplyAdd(x3, TLanes.Load(r3 + j), v);
            TLanes.Store(v, s0 + j);
        }
        for (; j < col1; j++)
        {
            float v = TLanes.MultiplyAddLane(f0, rows[j], s0[j]);
            v = TLanes.MultiplyAddLane(f1, r1[j], v);
            v = TLanes.MultiplyAddLane(f2, r2[j], v);
            s0[j] = TLanes.MultiplyAddLane(f3, r3[j], v);
        }
    }

    /// <summary>Sum row s0, columns [col0, col1) += factor·row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy(float factor, float* row, float* s0, int col0, int col1)
    {
        TVector x = TLanes.Broadcast(factor);
        int j = col0, whole = col0 + (col1 - col0) / TLanes.Count * TLanes.Count;
        for (; j < whole; j += TLanes.Count)
            TLanes.Store(TLanes.MultiplyAdd(x, TLanes.Load(row + j), TLanes.Load(s0 + j)), s0 + j);
        for (; j < col1; j++) s0[j] = TLanes.MultiplyAddLane(factor, row[j], s0[j]);
    }

    /// <summary>c[col0..col1) = sums + c, the blocked path's final addition.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddInto(float* sums, float* c, int col0, int col1)
    {
        int j = col0, whole = col0 + (col1 - col0) / TLanes.Count * TLanes.Count;
        for (; j < whole; j += TLanes.Count)
            TLanes.Store(TLanes.Add(TLanes.Load(sums + j), TLanes.Load(c + j)), c + j);
        for (; j < col1; j++) c[j] = sums[j] + c[j];
    }
}
