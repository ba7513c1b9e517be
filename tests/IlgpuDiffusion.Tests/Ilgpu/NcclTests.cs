using System.Runtime.CompilerServices;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The NCCL binding where a CPU machine can check it (which devices it refuses, a missing library, the id's layout, a rank's
/// device index), and on a CUDA machine with NCCL a one-rank communicator summing in place.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class NcclTests
{
    [Fact]
    public void A_cpu_device_sums_on_the_host_and_says_why()
    {
        Assert.False(NcclCommunicator.CanRunOn(TinyModels.Cpu, out string reason));
        Assert.Contains("is not a CUDA device", reason);
        Assert.Throws<ArgumentException>(() => NcclCommunicator.Create(TinyModels.Cpu, 0, 1, _ => { }));
    }

    [Fact]
    public void The_library_loads_or_says_what_is_missing()
    {
        NcclLibrary? nccl = NcclLibrary.TryLoad(out string reason);
        if (nccl is null) Assert.Contains(NcclLibrary.FileName, reason);
        else Assert.Matches(@"^NCCL \d+\.\d+\.\d+$", nccl.Version);
    }

    [Fact]
    public void The_unique_id_is_passed_as_ncclh_declares_it()
    {
        Assert.Equal(128, Unsafe.SizeOf<NcclUniqueId>());
        NcclUniqueId id = default;
        id[127] = 7;
        Span<byte> bytes = id;
        Assert.Equal(7, bytes[^1]);
    }

    [Fact]
    public void A_rank_opens_the_device_of_its_local_rank_or_is_told_how_many_there_are()
    {
        using (Device cpu = Device.Create(Backend.Cpu, null, 3)) Assert.Equal(Backend.Cpu, cpu.Backend);
        var error = Assert.Throws<ArgumentException>(() => Device.Create(Backend.IlgpuCpu, null, 99));
        Assert.Contains("Device 99 of the ilgpu-cpu backend was asked for, but this machine has 1", error.Message);
    }

    [SkippableFact]
    public void One_rank_sums_a_cuda_tensor_in_place()
    {
        Skip.IfNot(IlgpuRuntime.HasCuda, TestBackends.NoCuda);
        using Device cuda = Device.Create(Backend.Cuda);
        Skip.IfNot(NcclCommunicator.CanRunOn(cuda, out string reason), reason);
        using NcclCommunicator nccl = NcclCommunicator.Create(cuda, 0, 1, _ => { });
        float[] values = [1f, -2.5f, 3f, 1e-3f, 7f];
        using OwnedTensor<float> tensor = cuda.Upload<float>(values, new Shape(values.Length));
        nccl.AllReduceSum(((Tensor<float>)tensor).Slice(1, 3));
        var host = new float[values.Length];
        ((Tensor<float>)tensor).CopyTo(host);
        Assert.Equal(values, host);
        Assert.StartsWith("NCCL ", nccl.Version);
    }
}
