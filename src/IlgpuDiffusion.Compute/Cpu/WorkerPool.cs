namespace IlgpuDiffusion.Cpu;

/// <summary>A unit of parallel CPU work split into numbered chunks.</summary>
internal interface IParallelJob
{
    /// <summary>Runs chunk <paramref name="chunk"/>; chunks are independent.</summary>
    void Execute(int chunk);
}

/// <summary>
/// A fixed set of worker threads that run a job's chunks; the calling thread works too.
/// Unlike Parallel.For it allocates nothing per call (jobs are cached objects whose
/// fields carry the arguments), which keeps training and sampling steps allocation-free.
/// A second caller while a job runs, or a nested call, runs its chunks on its own thread.
/// </summary>
internal sealed class WorkerPool
{
    /// <summary>The process-wide pool with one thread per core.</summary>
    public static readonly WorkerPool Shared = new(Environment.ProcessorCount);

    [ThreadStatic] private static bool t_insideJob;

    private int _busy;
    private readonly SemaphoreSlim _start = new(0);
    private readonly ManualResetEventSlim _done = new(false);
    private IParallelJob? _job;
    private int _chunks;
    private int _nextChunk;
    private int _workersBusy;
    private Exception? _failure;

    /// <summary>Creates a pool that runs jobs on <paramref name="threads"/> threads (the caller included).</summary>
    public WorkerPool(int threads)
    {
        Threads = Math.Max(1, threads);
        for (int i = 1; i < Threads; i++)
            new Thread(WorkerLoop) { IsBackground = true, Name = $"IlgpuDiffusion worker {i}" }.Start();
    }

    /// <summary>Threads that run chunks, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Runs chunks 0..<paramref name="chunks"/>−1 of <paramref name="job"/> and returns when all are done.</summary>
    public void Run(IParallelJob job, int chunks)
    {
        if (chunks <= 0) return;
        if (chunks == 1 || Threads == 1 || t_insideJob || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            RunSerially(job, chunks);
            return;
        }
        try
        {
            _job = job;
            _chunks = chunks;
            _nextChunk = 0;
            _failure = null;
            int helpers = Math.Min(Threads - 1, chunks - 1);
            _workersBusy = helpers;
            _done.Reset();
            _start.Release(helpers);
            RunChunks();
            if (helpers > 0) _done.Wait();
            _job = null;
            if (_failure is { } failure)
                throw new AggregateException("A parallel CPU kernel failed.", failure);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void RunSerially(IParallelJob job, int chunks)
    {
        bool outer = !t_insideJob;
        t_insideJob = true;
        try
        {
            for (int i = 0; i < chunks; i++) job.Execute(i);
        }
        finally
        {
            if (outer) t_insideJob = false;
        }
    }

    private void RunChunks()
    {
        t_insideJob = true;
        try
        {
            int chunk;
            while ((chunk = Interlocked.Increment(ref _nextChunk) - 1) < _chunks)
                _job!.Execute(chunk);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
            Volatile.Write(ref _nextChunk, int.MaxValue / 2);
        }
        finally
        {
            t_insideJob = false;
        }
    }

    private void WorkerLoop()
    {
        while (true)
        {
            _start.Wait();
            RunChunks();
            if (Interlocked.Decrement(ref _workersBusy) == 0) _done.Set();
        }
    }
}
