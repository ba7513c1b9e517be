using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Compute;

/// <summary>
/// <see cref="Device.HostWaits"/>: every synchronization and host copy of an ILGPU device counts once, launches never,
/// and a profile reports the profiled code's waits without its own (it waits around every op) or a paused stretch's.
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
        Assert.Equal(before + 2, device.HostWaits);
        Assert.Equal(64, x.ToArray().Length);
        Assert.Equal(before + 3, device.HostWaits);
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
