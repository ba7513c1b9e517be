using System.Runtime.Intrinsics.X86;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// The blocked GEMM (Goto/BLIS loop nest) for one micro-kernel:
/// <code>
/// for jc in n step Nc                       column block; B panel [k, Nc] packed once, shared (L3)
///   parallel for (m block, n group)         chunks over the pool
///     for pc in k step Kc                   depth block
///       pack A block [Mc, Kc]               per thread (L2)
///       for jp in micro-panels of the group B micro-panel [Kc, Nr] (L1), the next one prefetched to L2
///         for ir in m block step Mr         micro-kernel on an Mr×Nr tile of C (registers)
/// </code>
/// Edge tiles (fewer than Mr rows or Nr columns left) run the same micro-kernel on
/// zero-padded panels into a scratch tile, then copy or add the valid part into C.
/// </summary>
internal static unsafe class GemmDriver<TKernel> where TKernel : IMicroKernel
{
    /// <summary>Largest packed B panel, in floats (16 MiB): bounds Nc for deep products.</summary>
    private const long MaxPanelFloats = 4L << 20;

    /// <summary>Below this many multiply-adds a product runs on the calling thread alone.</summary>
    private const long ParallelThreshold = 1L << 18;

    /// <summary>Chunks per pool thread to aim for, so a disturbed core does not stall the rest.</summary>
    private const int ChunksPerThread = 4;

    /// <summary>
    /// Column micro-panels per thread from which the threads split the columns of every m block between them (each streams
    /// only its share of the packed B panel, and packs the A blocks it needs itself) instead of taking whole m blocks.
    /// Measured on 2 AVX-512 cores: 1.1–1.25× for n ≥ 1024 (1024³, the MLP's up projection, its input gradient), no gain at
    /// n = 768, and a loss for the weight gradients of n = 768 that this bound keeps on the m split (gemm-2core-avx512.md).
    /// </summary>
    private const int ColumnSplitPanelsPerThread = 16;

    /// <summary>
    /// c = op(a)·op(b) (or c += when accumulate); m, n, k ≥ 1. Shapes as in
    /// <see cref="SimdGemm.Multiply(MatMulLayout, float*, float*, float*, int, int, int, bool)"/>.
    /// </summary>
    public static void Multiply(MatMulLayout layout, float* a, float* b, float* c, int m, int n, int k, bool accumulate)
    {
        int mr = TKernel.Mr, nr = TKernel.Nr;
        WorkerPool pool = WorkerPool.Shared;
        bool parallel = (long)m * n * k >= ParallelThreshold && pool.Threads > 1;
        int threads = parallel ? pool.Threads : 1;

        int ncMax = (int)Math.Clamp(MaxPanelFloats / k / nr * nr, nr, RoundUp(n, nr));
        int rowPanels = (m + mr - 1) / mr;
        int mcBlocks = (rowPanels * mr + TKernel.Mc - 1) / TKernel.Mc;
        bool splitColumns = parallel && (n + nr - 1) / nr >= threads * ColumnSplitPanelsPerThread;
        // Even m blocks of at most Mc rows; when the threads split rows, a multiple of the thread count.
        int mBlocks = Math.Min(splitColumns ? mcBlocks : RoundUp(mcBlocks, threads), rowPanels);

        var pack = PackBJob<TKernel>.ForCurrentThread;
        var compute = ComputeJob<TKernel>.ForCurrentThread;
        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            int colPanels = (nc + nr - 1) / nr;
            int ncPadded = colPanels * nr;
            float* panel = GemmBuffers.BPanel((long)k * ncPadded);

            pack.Layout = layout; pack.B = b; pack.Panel = panel;
            pack.N = n; pack.K = k; pack.Jc = jc; pack.Nc = nc; pack.NcPadded = ncPadded;
            pack.Panels = colPanels;
            pack.Chunks = Math.Min(colPanels, threads * ChunksPerThread);
            Run(pool, pack, pack.Chunks, parallel);

            // Split columns between the threads, or too when there are too few m blocks to keep every thread busy.
            int nGroups = !parallel ? 1
                : splitColumns ? Math.Min(threads, colPanels)
                : Math.Clamp(threads * ChunksPerThread / mBlocks, 1, colPanels);
            compute.Layout = layout; compute.A = a; compute.Panel = panel; compute.C = c;
            compute.M = m; compute.N = n; compute.K = k; compute.Jc = jc; compute.Nc = nc; compute.NcPadded = ncPadded;
            compute.Accumulate = accumulate;
            compute.RowPanels = rowPanels; compute.MBlocks = mBlocks;
            compute.ColPanels = colPanels; compute.NGroups = nGroups;
            Run(pool, compute, mBlocks * nGroups, parallel);
        }
        pack.B = pack.Panel = null;
        compute.A = compute.Panel = compute.C = null;
    }

    /// <summary>
    /// c[row0.., columns of micro-panels colPanel0..colPanel1) over the whole depth, on the calling thread.
    /// </summary>
    /// <param name="panel">packed B panel of columns [jc, jc + nc), row stride ncPadded per k</param>
    public static void MultiplyBlock(MatMulLayout layout, float* a, int m, int k, float* panel, int ncPadded,
        float* c, int n, int jc, int nc, int row0, int rows, int colPanel0, int colPanel1, bool accumulate)
    {
        int mr = TKernel.Mr, nr = TKernel.Nr, kcMax = TKernel.Kc;
        float* aBlock = GemmBuffers.ABlock((long)RoundUp(rows, mr) * Math.Min(kcMax, k));
        float* edge = stackalloc float[mr * nr]; // [Mr, Nr] scratch tile
        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc);
            bool add = accumulate || pc > 0;
            GemmPacking.PackA<TKernel>(layout, a, m, k, row0, rows, pc, kc, aBlock);
            float* bBlock = panel + (long)pc * ncPadded;
            for (int jp = colPanel0; jp < colPanel1; jp++)
            {
                float* bp = bBlock + (long)jp * kc * nr;
                int col = jc + jp * nr, cols = Math.Min(nr, jc + nc - col);
                // The next B micro-panel usually comes from L3 or memory: pull it into L2 a
                // slice per tile while this one is in use, so its first tile does not stall.
                float* nextB = jp + 1 < colPanel1 ? bp + (long)kc * nr : null;
                int prefetchLines = nextB == null ? 0 : kc * nr / 16, linesPerTile = (prefetchLines * mr + rows - 1) / rows + 1;
                for (int ir = 0, line = 0; ir < rows; ir += mr)
                {
                    if (Sse.IsSupported)
                    {
                        for (int end = Math.Min(prefetchLines, line + linesPerTile); line < end; line++)
                            Sse.Prefetch1(nextB + line * 16);
                    }
                    float* ap = aBlock + (long)ir * kc;
                    float* tile = c + (long)(row0 + ir) * n + col;
                    int tileRows = Math.Min(mr, rows - ir);
                    if (tileRows == mr && cols == nr)
                    {
                        TKernel.Run(kc, ap, bp, tile, n, add);
                    }
                    else
                    {
                        TKernel.Run(kc, ap, bp, edge, nr, false);
                        StoreEdge(edge, tile, n, tileRows, cols, add);
                    }
                }
            }
        }
    }

    /// <summary>tile[i, j] (+)= edge[i, j] for i &lt; rows, j &lt; cols; edge is [Mr, Nr].</summary>
    private static void StoreEdge(float* edge, float* tile, int ldc, int rows, int cols, bool add)
    {
        for (int i = 0; i < rows; i++, edge += TKernel.Nr, tile += ldc)
        {
            if (add)
                for (int j = 0; j < cols; j++) tile[j] += edge[j];
            else
                for (int j = 0; j < cols; j++) tile[j] = edge[j];
        }
    }

    private static void Run(WorkerPool pool, IParallelJob job, int chunks, bool parallel)
    {
        if (parallel)
        {
            pool.Run(job, chunks);
            return;
        }
        for (int i = 0; i < chunks; i++) job.Execute(i);
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
