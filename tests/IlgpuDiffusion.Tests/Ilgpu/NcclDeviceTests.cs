using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using Xunit;
using Xunit.Abstractions;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// NCCL on a CUDA GPU, as one rank (tools/device/nccl-check.sh runs these on a GPU machine): the communicator joins, sums a
/// tensor written by a kernel just before, and leaves ILGPU's context current, so the device's kernels and copies go on
/// working. Skipped, with the reason, without a CUDA device or libnccl.so.2.
/// </summary>
public sealed class NcclDeviceTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void One_rank_sums_to_its_input_and_the_device_works_on_after_it()
    {
        Skip.If(!IlgpuRuntime.HasCuda, "No CUDA device: NCCL runs on a machine with an NVIDIA GPU");
        Skip.If(NcclLibrary.TryLoad(out string missing) is null, missing);
        using var device = Device.Create(Backend.Cuda, MatMulPrecision.Fp32);
        using var communicator = NcclCommunicator.TryCreate(device, 0, 1, _ => { }, out string reason);
        Assert.True(communicator is not null, reason);
        output.WriteLine($"{communicator.Version} on {device.Description}");
        Assert.StartsWith("NCCL 2.", communicator.Version);

        const int before = 256, count = 100_003, after = 64;
        using var buffer = device.AllocateTensor<float>(new Shape(before + count + after));
        float[] input = TestData.Random(count, seed: 5);
        var values = buffer.Tensor.Slice(before, count);
        values.CopyFrom(input);
        device.Kernels.Fill(buffer.Tensor.Slice(0, before), -1f, before);
        device.Kernels.Fill(buffer.Tensor.Slice(before + count, after), -2f, after);

        for (int call = 0; call < 3; call++) communicator.AllReduceSum(values);

        float[] all = buffer.Tensor.ToArray();
        Assert.Equal(input, all.AsSpan(before, count).ToArray());
        Assert.All(all.AsSpan(0, before).ToArray(), v => Assert.Equal(-1f, v));
        Assert.All(all.AsSpan(before + count, after).ToArray(), v => Assert.Equal(-2f, v));

        device.Kernels.Fill(values, 3f, count);
        communicator.AllReduceSum(values);
        device.Kernels.Copy(values, buffer.Tensor.Slice(0, before), before);
        Assert.All(buffer.Tensor.ToArray(), v => Assert.True(v is 3f or -2f, $"{v}"));
    }

    [SkippableFact]
    public void A_tensor_of_another_device_is_refused()
    {
        Skip.If(!IlgpuRuntime.HasCuda, "No CUDA device: NCCL runs on a machine with an NVIDIA GPU");
        Skip.If(NcclLibrary.TryLoad(out string missing) is null, missing);
        using var device = Device.Create(Backend.Cuda, MatMulPrecision.Fp32);
        using var cpu = Device.Create(Backend.Cpu, null);
        using var communicator = NcclCommunicator.TryCreate(device, 0, 1, _ => { }, out string reason)!;
        using var tensor = cpu.AllocateTensor<float>(new Shape(8));
        var ex = Assert.Throws<ArgumentException>(() => communicator.AllReduceSum(tensor.Tensor));
        Assert.Contains("not on the device NCCL sums on", ex.Message);
    }
}
