using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Compute;

/// <summary>Opening the device of a given number (each rank of a data-parallel job takes the GPU of its local rank).</summary>
public sealed class DeviceIndexTests
{
    [Fact]
    public void The_cpu_backend_is_one_device_and_accepts_any_index()
    {
        using var device = Device.Create(Backend.Cpu, null, 3);
        Assert.Equal(Backend.Cpu, device.Backend);
    }

    [Fact]
    public void Device_zero_of_an_ilgpu_backend_opens()
    {
        using var device = Device.Create(Backend.IlgpuCpu, null, 0);
        Assert.Equal(Backend.IlgpuCpu, device.Backend);
    }

    [Fact]
    public void An_index_past_the_backends_devices_names_how_many_the_machine_has()
    {
        var ex = Assert.Throws<ArgumentException>(() => Device.Create(Backend.IlgpuCpu, null, 99));
        Assert.Contains("no ilgpu-cpu device 99", ex.Message);
        Assert.Contains("this machine has 1 ilgpu-cpu device,", ex.Message);
    }

    [SkippableFact]
    public void An_index_past_the_cuda_devices_names_how_many_the_machine_has()
    {
        Skip.If(!IlgpuRuntime.HasCuda, "No CUDA device: the CUDA devices are counted on a machine with an NVIDIA GPU");
        var ex = Assert.Throws<ArgumentException>(() => Device.Create(Backend.Cuda, MatMulPrecision.Fp32, 4096));
        Assert.Contains("no cuda device 4096: this machine has", ex.Message);
    }

    [Fact]
    public void A_negative_index_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.Create(Backend.Cpu, null, -1));
    }
}
