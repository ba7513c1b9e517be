using System.Runtime.Intrinsics;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// GEMM for products with at most <see cref="MaxRows"/> rows of c (autoregressive decoding at batch 1–8, the
/// conditioning Linear layers whose rows are the batch, and their input gradients). Such products are bound by reading
/// b (the weight) from memory once, so this path streams b straight from where it lies, with no packed copy and no
/// mostly empty register tiles, and splits the columns of c (rows of the weight for ABt) into contiguous ranges over
/// <see cref="WorkerPool.Shared"/>. Each element gets the same bits as on the blocked path (see
/// <see cref="SkinnyKernels{TLanes, TVector}"/>), so results depend neither on m nor on the thread count.
/// </summary>
internal static unsafe class SkinnyGemm
{
    /// <summary>
    /// Most rows of c this path takes. Up to 8 rows, each element of b brings at most 8 FMAs, which the register tiles
    /// (up to 4 rows of a × 2 vectors) finish in less time than it takes to stream that element from memory; the blocked
    /// path instead copies all of b into packed panels and, below its 12-row micro-tile, computes padding.
    /// </summary>
    public const int MaxRows = 8;

    /// <summary>ABt: chunks of weight rows start at multiples of this many, a whole number of kernel panels at every width.</summary>
    private const int WeightRowsPerUnit = 32;

    /// <summary>AB, AtB: chunks of columns start at multiples of this many (a 64-byte line of b and of c).</summary>
    private const int ColumnsPerUnit = 16;

    /// <summary>Below this many floats of b (256 KiB) a product runs on the calling thread alone.</summary>
    private const long ParallelFloats = 1L << 16;

    /// <summary>Floats of b a chunk reads at least (64 KiB), so a chunk outlasts the cost of handing it out.</summary>
    private const long MinChunkFloats = 1L << 14;

    /// <summary>
    /// AB, AtB: columns a chunk spans at least, so that each row of b is read in runs of at least 1 KiB (b is walked
    /// row by row within a chunk's columns).
    /// </summary>
    private const int MinChunkColumns = 256;

    /// <summary>Chunks per pool thread at most: a disturbed core leaves little of the product behind.</summary>
    private const int ChunksPerThread = 4;

    /// <summary>
    /// Same contract as <see cref="SimdGemm.Multiply(GemmPath, MatMulLayout, float*, float*, float*, int, int, int, bool)"/>
    /// for n, k ≥ 1 and 1 ≤ m ≤ <see cref="MaxRows"/>. Runs on <paramref name="pool"/> (tests vary its threads).
    /// </summary>
    public static void Multiply(WorkerPool pool, GemmPath path, MatMulLayout layout, float* a, float* b, float* c,
        int m, int n, int k, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(m, MaxRows);
        if (!Enum.IsDefined(path))
            throw new ArgumentOutOfRangeException(nameof(path), path, "Unknown GEMM path.");
        int unit = layout == MatMulLayout.ABt ? WeightRowsPerUnit : ColumnsPerUnit;
        int units = (n + unit - 1) / unit;
        int chunks = ChunkCount(layout, n, k, pool.Threads);

        var job = SkinnyJob.ForCurrentThread;
        job.Path = path; job.Layout = layout;
        job.A = a; job.B = b; job.C = c;
        job.M = m; job.N = n; job.K = k; job.Accumulate = accumulate;
        job.Unit = unit; job.Units = units; job.Chunks = chunks;
        if (chunks == 1)
            job.Execute(0);
        else
            pool.Run(job, chunks);
        job.A = job.B = job.C = null;
    }

    /// <summary>
    /// How many chunks a product of this layout and size is cut into on <paramref name="threads"/> threads: 1 (the calling
    /// thread alone) below <see cref="ParallelFloats"/> floats of b, else enough for load balance without chunks smaller
    /// than <see cref="MinChunkFloats"/> (and, for AB and AtB, narrower than <see cref="MinChunkColumns"/>), a multiple of
    /// the thread count when there are more chunks than threads.
    /// </summary>
    public static int ChunkCount(MatMulLayout layout, int n, int k, int threads)
    {
        if ((long)n * k < ParallelFloats || threads <= 1) return 1;
        bool rowsOfWeight = layout == MatMulLayout.ABt;
        int unit = rowsOfWeight ? WeightRowsPerUnit : ColumnsPerUnit;
        int units = (n + unit - 1) / unit;
        long unitFloats = (long)unit * k;
        long minUnits = (MinChunkFloats + unitFloats - 1) / unitFloats;
        if (!rowsOfWeight) minUnits = Math.Max(minUnits, MinChunkColumns / ColumnsPerUnit);
        int chunks = (int)Math.Clamp(units / minUnits, 1, (long)threads * ChunksPerThread);
        return chunks > threads ? chunks / threads * threads : chunks; // equal shares per thread
    }

    /// <summary>
    /// One chunk: a contiguous range of units (<see cref="WeightRowsPerUnit"/> weight rows for ABt,
    /// <see cref="ColumnsPerUnit"/> columns otherwise) of c's columns, for all m rows. One cached instance per driving thread.
    /// </summary>
    private sealed class SkinnyJob : IParallelJob
    {
        [ThreadStatic] private static SkinnyJob? t_instance;

        /// <summary>The calling thread's instance.</summary>
        public static SkinnyJob ForCurrentThread => t_instance ??= new();

        public GemmPath Path;
        public MatMulLayout Layout;
        public float* A, B, C;
        public int M, N, K;
        public bool Accumulate;
        public int Unit, Units, Chunks;

        public void Execute(int chunk)
        {
            int first = (int)((long)Units * chunk / Chunks), last = (int)((long)Units * (chunk + 1) / Chunks);
            int start = first * Unit, end = Math.Min(N, last * Unit);
            if (start >= end) return;
            switch (Path)
            {
                case GemmPath.Vector512:
                    Run<SkinnyLanes512, Vector512<float>>(start, end);
                    break;
                case GemmPath.Vector256:
                    Run<SkinnyLanes256, Vector256<float>>(start, end);
                    break;
                default:
                    Run<SkinnyLanesScalar, float>(start, end);
                    break;
            }
        }

        private void Run<TLanes, TVector>(int start, int end)
            where TLanes : struct, ISkinnyLanes<TVector>
            where TVector : struct
        {
            switch (Layout)
            {
                case MatMulLayout.ABt:
                    SkinnyKernels<TLanes, TVector>.DotRows(A, B, C, M, N, K, start, end, Accumulate);
                    break;
                case MatMulLayout.AB: // a [m, k]
                    SkinnyKernels<TLanes, TVector>.AxpyColumns(A, K, 1, B, C, M, N, K, start, end, Accumulate);
                    break;
                default: // AtB: a [k, m]
                    SkinnyKernels<TLanes, TVector>.AxpyColumns(A, 1, M, B, C, M, N, K, start, end, Accumulate);
                    break;
            }
        }
    }
}
