namespace IlgpuDiffusion.Cpu;

/// <summary>
/// A parallel job over a range of work items [0, total) cut into contiguous chunks.
/// Subclasses hold the op's arguments in fields (set before <see cref="Run"/>) and
/// implement <see cref="ExecuteRange"/>; instances are cached so that a call allocates nothing.
/// Jobs whose chunks leave partial sums that are added up afterwards run with <see cref="RunReduction"/>: their chunking
/// depends only on (total, grain), never on the thread count, so the sums, and a training run resumed on a machine with
/// another number of cores, come out bit for bit the same. Other jobs (each item's result its own) chunk by the thread
/// count for load balance.
/// </summary>
internal abstract class ChunkedJob : IParallelJob
{
    private int _total;
    private int _chunks;

    /// <summary>Number of chunks the last <see cref="Run"/> used.</summary>
    protected int Chunks => _chunks;

    /// <summary>
    /// Most chunks of a <see cref="RunReduction"/>: a constant, so that partial sums do not depend on the thread count;
    /// four per thread up to 16 threads, as <see cref="Run"/> cuts.
    /// </summary>
    public const int MaxReductionChunks = 64;

    /// <summary>Runs [0, total) in chunks of at least <paramref name="grain"/> items on <paramref name="pool"/>.</summary>
    public void Run(WorkerPool pool, int total, int grain) => RunInChunks(pool, total, ChunkCount(total, grain, pool.Threads));

    /// <summary>
    /// Runs [0, total) in <see cref="ReductionChunkCount"/> chunks on <paramref name="pool"/>: for jobs whose per-chunk
    /// partial results are added up afterwards.
    /// </summary>
    public void RunReduction(WorkerPool pool, int total, int grain) => RunInChunks(pool, total, ReductionChunkCount(total, grain));

    /// <summary>How many chunks [0, total) is cut into: enough to balance load, never below the grain.</summary>
    public static int ChunkCount(int total, int grain, int threads) => Cut(total, grain, 4L * threads);

    /// <summary>How many chunks a <see cref="RunReduction"/> cuts [0, total) into, whatever the thread count.</summary>
    public static int ReductionChunkCount(int total, int grain) => Cut(total, grain, MaxReductionChunks);

    private static int Cut(int total, int grain, long most)
    {
        if (total <= 0) return 0;
        long byGrain = (total + (long)Math.Max(1, grain) - 1) / Math.Max(1, grain);
        return (int)Math.Clamp(byGrain, 1, most);
    }

    private void RunInChunks(WorkerPool pool, int total, int chunks)
    {
        _total = total;
        _chunks = chunks;
        pool.Run(this, _chunks);
    }

    /// <inheritdoc/>
    public void Execute(int chunk)
    {
        long start = (long)_total * chunk / _chunks;
        long end = (long)_total * (chunk + 1) / _chunks;
        ExecuteRange(chunk, (int)start, (int)end);
    }

    /// <summary>Processes work items [start, end), which form chunk number <paramref name="chunk"/>.</summary>
    protected abstract void ExecuteRange(int chunk, int start, int end);
}
