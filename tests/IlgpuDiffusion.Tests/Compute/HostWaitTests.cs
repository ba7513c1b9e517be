using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Compute;

/// <summary>
/// <see cref="Device.HostWaits"/>: every synchronization and read-back of an ILGPU device counts once, launches and staged
/// uploads never, and a profile reports the profiled code's waits without its own (reading its events back, or waiting
/// around every op) or a paused stretch's. Staged uploads queue behind the work that reads the old values
/// (<see cref="PinnedUploads"/>).
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class HostWaitTests
{
    [SkippableTheory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cuda")]
    public void Synchronizations_and_host_copies_count_and_launches_do_not(string backend)
    {
        var device = TestBackends.Get(backend);
        using var x = device.AllocateTensor<float>(new Shape(64));
        long before = device.HostWaits;
        device.Kernels.Fill(x, 2f, 64);
        device.Kernels.GeluForward(x, x, 64);
        Assert.Equal(before, device.HostWaits);
        device.Synchronize();
        Assert.Equal(before + 1, device.HostWaits);
        x.CopyFrom(new float[64]);
        Assert.Equal(before + 1, device.HostWaits);
        Assert.Equal(64, x.ToArray().Length);
        Assert.Equal(before + 2, device.HostWaits);
    }

    /// <summary>
    /// Uploads without waits land in order with the launches around them: each kernel sees the values uploaded before it,
    /// never one uploaded after it, also when more uploads queue than the staging has chunks (then one upload waits). On a
    /// device of its own: the shared ones count other tests' waits.
    /// </summary>
    [SkippableTheory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cuda")]
    public void Staged_uploads_keep_their_order_with_launches(string backend)
    {
        using var device = TestBackends.Own(backend);
        const int n = 4096, rounds = PinnedUploads.MaxChunks + 8;
        using var source = device.AllocateTensor<float>(new Shape(n));
        using var copies = device.AllocateTensor<float>(new Shape(rounds * n));
        device.Synchronize();
        long before = device.HostWaits;
        var values = new float[n];
        for (int round = 0; round < rounds; round++)
        {
            Array.Fill(values, round + 1);
            source.CopyFrom(values);
            device.Kernels.Copy(source, copies.Tensor.Slice(round * n, n), n);
        }
        Assert.Equal(1, device.HostWaits - before); // the staging's chunks were all busy once
        float[] result = copies.ToArray();
        for (int round = 0; round < rounds; round++)
            Assert.True(result.AsSpan(round * n, n).IndexOfAnyExcept(round + 1f) < 0, $"round {round} saw another upload's values");
    }

    /// <summary>Once the staging has its chunks, an upload allocates nothing (a training step uploads several).</summary>
    [Fact]
    public void Staged_uploads_allocate_nothing_in_steady_state()
    {
        using var device = Device.Create("ilgpu-cpu");
        using var x = device.AllocateTensor<float>(new Shape(1024));
        var values = new float[1024];
        for (int i = 0; i < 20; i++)
        {
            x.Tensor.CopyFrom(values);
            if (i % 5 == 4) device.Synchronize();
        }
        long bytes = 0;
        for (int round = 0; round < 4; round++)
        {
            long start = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) x.Tensor.CopyFrom(values);
            bytes += GC.GetAllocatedBytesForCurrentThread() - start;
            device.Synchronize();
        }
        Assert.Equal(0, bytes);
    }

    [SkippableTheory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cuda")]
    public void Uploads_above_the_staging_size_wait(string backend)
    {
        using var device = TestBackends.Own(backend);
        int n = PinnedUploads.MaxBytes / sizeof(float) + 1;
        using var x = device.AllocateTensor<float>(new Shape(n));
        long before = device.HostWaits;
        var values = new float[n];
        values[^1] = 3f;
        x.CopyFrom(values);
        Assert.Equal(before + 1, device.HostWaits);
        Assert.Equal(3f, x.ToArray()[^1]);
    }

    [SkippableTheory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cuda")]
    public void A_profile_counts_the_profiled_codes_waits_not_its_own(string backend)
    {
        var device = TestBackends.Get(backend);
        using var x = device.AllocateTensor<float>(new Shape(64));
        KernelProfile profile;
        using (profile = device.StartProfile())
        {
            for (int i = 0; i < 3; i++) device.Kernels.Fill(x, i, 64);
            Assert.Equal(0, profile.HostWaits);
            _ = x.ToArray();
            device.PauseProfile();
            _ = x.ToArray();
            device.Synchronize();
            device.ResumeProfile();
            Assert.Equal(1, profile.HostWaits);
            device.Synchronize();
        }
        Assert.Equal(3, profile.Entries.Single().Calls);
        Assert.Equal(2, profile.HostWaits);
    }

    [Fact]
    public void The_cpu_backend_never_waits()
    {
        var device = TestBackends.Get("cpu");
        using var x = device.AllocateTensor<float>(new Shape(8));
        device.Kernels.Fill(x, 1f, 8);
        device.Synchronize();
        _ = x.ToArray();
        Assert.Equal(0, device.HostWaits);
    }
}
