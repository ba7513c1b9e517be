using System.Runtime.CompilerServices;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The NCCL gradient sum where it cannot run (no CUDA device, no libnccl.so.2): it declines with a reason instead of failing,
/// so the caller falls back to the host sum. NcclDeviceTests runs it on a GPU.
/// </summary>
public sealed class NcclCommunicatorTests
{
    [Theory]
    [InlineData(Backend.Cpu, "CPU (managed SIMD")]
    [InlineData(Backend.IlgpuCpu, "ilgpu-cpu")]
    public void A_device_other_than_cuda_gets_no_communicator_and_the_reason_names_it(Backend backend, string named)
    {
        using var device = Device.Create(backend, null);
        bool broadcast = false;
        var communicator = NcclCommunicator.TryCreate(device, 0, 1, _ => broadcast = true, out string reason);
        Assert.Null(communicator);
        Assert.False(broadcast);
        Assert.Contains("NCCL sums on CUDA GPUs", reason);
        Assert.Contains(named, reason);
        Assert.False(NcclCommunicator.IsSupported(device, out string again));
        Assert.Equal(reason, again);
    }

    [SkippableFact]
    public void Without_nccl_the_loader_says_which_library_is_missing()
    {
        Skip.If(NcclLibrary.TryLoad(out _) is not null, "NCCL is installed on this machine: there is no missing library to explain");
        Assert.Null(NcclLibrary.TryLoad(out string reason));
        Assert.Contains("libnccl.so.2 could not be opened", reason);
        Assert.Contains("LD_LIBRARY_PATH", reason);
    }

    [Fact]
    public void The_unique_id_passed_by_value_is_nccls_128_bytes()
    {
        Assert.Equal(128, NcclUniqueId.Size);
        Assert.Equal(128, Unsafe.SizeOf<NcclUniqueId>());
    }

    [Theory]
    [InlineData(22105, "NCCL 2.21.5")]
    [InlineData(21903, "NCCL 2.19.3")]
    [InlineData(2804, "NCCL 2.8.4")]
    public void Version_codes_read_as_nccl_h_writes_them(int code, string version) =>
        Assert.Equal(version, NcclLibrary.FormatVersion(code));

    [Fact]
    public void Ranks_outside_the_job_are_refused()
    {
        using var device = Device.Create(Backend.Cpu, null);
        Assert.Throws<ArgumentOutOfRangeException>(() => NcclCommunicator.TryCreate(device, 2, 2, _ => { }, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => NcclCommunicator.TryCreate(device, 0, 0, _ => { }, out _));
    }
}
