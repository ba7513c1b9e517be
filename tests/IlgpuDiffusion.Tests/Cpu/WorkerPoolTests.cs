using IlgpuDiffusion.Cpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Cpu;

public sealed class WorkerPoolTests
{
    private sealed class CountingJob : IParallelJob
    {
        public int[] Hits = [];
        public int FailAt = -1;
        public WorkerPool? Nested;

        public void Execute(int chunk)
        {
            if (chunk == FailAt) throw new InvalidOperationException($"chunk {chunk} failed");
            Interlocked.Increment(ref Hits[chunk]);
            if (Nested != null)
            {
                var inner = new CountingJob { Hits = new int[3] };
                Nested.Run(inner, 3);
                Assert.All(inner.Hits, h => Assert.Equal(1, h));
            }
        }
    }

    [Fact]
    public void Every_chunk_runs_exactly_once_over_many_calls()
    {
        var pool = new WorkerPool(3);
        var job = new CountingJob();
        for (int round = 0; round < 200; round++)
        {
            job.Hits = new int[1 + round % 37];
            pool.Run(job, job.Hits.Length);
            Assert.All(job.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void A_failing_chunk_surfaces_as_an_exception_and_the_pool_keeps_working()
    {
        var pool = new WorkerPool(2);
        var failing = new CountingJob { Hits = new int[8], FailAt = 5 };
        var ex = Assert.Throws<AggregateException>(() => pool.Run(failing, 8));
        Assert.Contains("chunk 5 failed", ex.InnerException!.Message);
        var ok = new CountingJob { Hits = new int[8] };
        pool.Run(ok, 8);
        Assert.All(ok.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void Nested_and_concurrent_calls_run_to_completion()
    {
        var pool = new WorkerPool(2);
        var outer = new CountingJob { Hits = new int[4], Nested = pool };
        pool.Run(outer, 4);
        Assert.All(outer.Hits, h => Assert.Equal(1, h));
        Parallel.For(0, 8, _ =>
        {
            var job = new CountingJob { Hits = new int[16] };
            pool.Run(job, 16);
            Assert.All(job.Hits, h => Assert.Equal(1, h));
        });
    }
}
