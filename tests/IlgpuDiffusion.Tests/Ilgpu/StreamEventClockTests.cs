using System.Diagnostics;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// A profile of an ILGPU device with a stream (CUDA, the CPU accelerator) times ops by events on the stream
/// (<see cref="StreamEventClock"/>): every op is counted and timed across the clock's batches, a read while it runs sees the
/// ops queued so far, a pause leaves its ops out, and on a GPU the host queues ops without waiting for them.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class StreamEventClockTests
{
    [SkippableTheory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cuda")]
    public void Every_op_is_counted_and_timed_across_the_clocks_batches(string backend)
    {
        using var device = TestBackends.Own(backend);
        using var x = device.AllocateTensor<float>(new Shape(64));
        using var y = device.AllocateTensor<float>(new Shape(64));
        KernelProfile profile;
        using (profile = device.StartProfile())
        {
            Assert.True(profile.TimedOnDevice);
            for (int i = 0; i < 5; i++) device.Kernels.Fill(x, i, 64);
            Assert.Equal(5, profile.Entries.Single().Calls);     // read while running: the ops queued so far
            for (int i = 5; i < StreamEventClock.Capacity + 3; i++) device.Kernels.Fill(x, i, 64);
            device.PauseProfile();
            device.Kernels.Copy(x, y, 64);                        // paused: not counted
            device.ResumeProfile();
            device.Kernels.Copy(y, x, 64);
        }
        device.Kernels.Copy(x, y, 64);                            // after it: not counted
        Assert.Equal([("Fill", StreamEventClock.Capacity + 3L), ("Copy", 1L)],
            profile.Entries.Select(e => (e.Op, e.Calls)).OrderByDescending(e => e.Item2));
        Assert.All(profile.Entries, e => Assert.True(e.Time > TimeSpan.Zero, $"{e.Op}: {e.Time}"));
        Assert.True(profile.InOps <= profile.Elapsed, $"{profile.InOps} in ops, {profile.Elapsed} elapsed");
        Assert.Equal(StreamEventClock.Capacity + 2f, y.ToArray()[0]);
        using (device.StartProfile()) { }                         // a new profile once the last is disposed
    }

    [SkippableFact]
    public void On_a_gpu_the_host_queues_profiled_ops_without_waiting_for_them()
    {
        using var device = TestBackends.Own("cuda");
        const int ops = 200, length = 1 << 26;                    // 256 MB a fill: tens of microseconds each on any GPU
        using var x = device.AllocateTensor<float>(new Shape(length));
        device.Kernels.Fill(x, 0f, length);
        device.Synchronize();
        KernelProfile profile;
        TimeSpan queueing;
        using (profile = device.StartProfile())
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < ops; i++) device.Kernels.Fill(x, i, length);
            queueing = Stopwatch.GetElapsedTime(start);
        }
        Assert.Equal(ops, profile.Entries.Single().Calls);
        Assert.True(queueing < profile.InOps / 2, $"queueing {queueing}, the fills' device time {profile.InOps}");
    }
}
