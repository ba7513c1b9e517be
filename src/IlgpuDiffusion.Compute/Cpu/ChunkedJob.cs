namespace IlgpuDiffusion.Cpu;

/// <summary>
/// A parallel job over a range of work items [0, total) cut into contiguous chunks.
/// Subclasses hold the op's arguments in fields (set before <see cref="Run"/>) and
/// implement <see cref="ExecuteRange"/>; instances are cached so that a call allocates nothing.
/// The chunking depends only on (total, grain, threads), so per-chunk partial sums are
/// reduced in a fixed order: results are deterministic on a given machine.
/// </summary>
internal abstract class ChunkedJob : IParallelJob
{
    private int _total;
    private int _chunks;

    /// <summary>Number of chunks the last <see cref="Run"/> used.</summary>
    protected int Chunks => _chunks;

    /// <summary>Runs [0, total) in chunks of at least <paramref name="grain"/> items on <paramref name="pool"/>.</summary>
    public void Run(WorkerPool pool, int total, int grain)
    {
        _total = total;
        _chunks = ChunkCount(total, grain, pool.Threads);
        pool.Run(this, _chunks);
    }

    /// <summary>How many chunks [0, total) is cut into: enough to balance load, never below the grain.</summary>
    public static int ChunkCount(int total, int grain, int threads)
    {
        if (total <= 0) return 0;
        long byGrain = (total + (long)Math.Max(1, grain) - 1) / Math.Max(1, grain);
        return (int)Math.Clamp(byGrain, 1, 4L * threads);
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
