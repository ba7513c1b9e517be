using IlgpuDiffusion.Compute;
using Xunit;

namespace IlgpuDiffusion.Tests.Compute;

public sealed class TensorAndArenaTests
{
    private static readonly Device Cpu = Device.Create("cpu");

    [Fact]
    public void Shape_reports_rank_length_and_dimensions()
    {
        var shape = new Shape(2, 3, 5);
        Assert.Equal(3, shape.Rank);
        Assert.Equal(30, shape.Length);
        Assert.Equal(15, shape.InnerLength);
        Assert.Equal(5, shape[-1]);
        Assert.Equal("[2, 3, 5]", shape.ToString());
        Assert.Equal(new Shape(7, 3, 5), shape.WithFirst(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => shape[3]);
        Assert.Throws<ArgumentException>(() => new Shape(1, 2, 3, 4, 5));
        Assert.Throws<ArgumentException>(() => new Shape(2, -1));
    }

    [Fact]
    public void Slices_and_reshapes_are_views_of_the_same_buffer()
    {
        var t = Cpu.Upload<float>(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), new Shape(4, 6));
        var rows = t.Slice(1, 2);
        Assert.Equal(new Shape(2, 6), rows.Shape);
        Assert.Equal(6, rows.Offset);
        Assert.Equal([6f, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], rows.ToArray());
        rows.CopyFrom(new float[12]);
        Assert.Equal(0f, t.ToArray()[6]);
        Assert.Equal(18f, t.ToArray()[18]);
        Assert.Equal(new Shape(3, 4), rows.Flatten().Reshape(new Shape(3, 4)).Shape);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(3, 2));
        Assert.Throws<ArgumentException>(() => t.Reshape(new Shape(5, 5)));
        Assert.Throws<ArgumentException>(() => t.CopyFrom(new float[3]));
    }

    [Fact]
    public void A_view_must_fit_in_its_buffer()
    {
        var buffer = Cpu.Allocate<float>(10);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Tensor<float>(buffer, 4, new Shape(2, 4)));
        Assert.Contains("does not fit in a buffer of 10 elements", ex.Message);
    }

    [Fact]
    public void Arena_carves_aligned_named_tensors_from_one_buffer()
    {
        var layout = new ArenaLayout<float>();
        int a = layout.Add("a", new Shape(3));
        int b = layout.Add("b", new Shape(2, 5));
        Assert.Throws<ArgumentException>(() => layout.Add("a", new Shape(1)));
        Assert.Equal(16 + 10, layout.Length);
        using var arena = layout.Allocate(Cpu);
        Assert.Same(arena[a].Buffer, arena[b].Buffer);
        Assert.Equal(0, arena[a].Offset);
        Assert.Equal(16, arena["b"].Offset);
        Assert.Equal(new Shape(2, 5), arena["b"].Shape);
        Assert.Equal(["a", "b"], arena.Names);
        Assert.Equal(26, arena.All.Length);
        Assert.Throws<KeyNotFoundException>(() => arena["c"]);
        arena["b"].CopyFrom(Enumerable.Repeat(1f, 10).ToArray());
        Assert.Equal(0f, arena["a"].ToArray().Sum());
    }

    [Fact]
    public void Backend_names_parse_and_unknown_names_are_explained()
    {
        Assert.Null(BackendNames.Parse("auto"));
        Assert.Null(BackendNames.Parse(null));
        Assert.Equal(Backend.IlgpuCpu, BackendNames.Parse(" ILGPU-CPU "));
        Assert.Equal("ilgpu-cpu", Backend.IlgpuCpu.Name());
        var ex = Assert.Throws<ArgumentException>(() => BackendNames.Parse("tpu"));
        Assert.Contains("auto, cpu, cuda, ilgpu-cpu, opencl", ex.Message);
    }

    [Fact]
    public void Auto_picks_cuda_when_present_else_the_cpu_backend()
    {
        using var device = Device.Create("auto");
        Assert.Equal(IlgpuDiffusion.Ilgpu.IlgpuRuntime.HasCuda ? Backend.Cuda : Backend.Cpu, device.Backend);
        Assert.False(string.IsNullOrWhiteSpace(device.Description));
    }

    [SkippableFact]
    public void Asking_for_a_missing_cuda_device_says_so()
    {
        Skip.If(IlgpuDiffusion.Ilgpu.IlgpuRuntime.HasCuda, "A CUDA device is present: there is no missing device to explain");
        var ex = Assert.Throws<InvalidOperationException>(() => Device.Create("cuda"));
        Assert.Contains("No CUDA device", ex.Message);
    }

    [Theory]
    [InlineData("fp32", MatMulPrecision.Fp32)]
    [InlineData("TF32", MatMulPrecision.Tf32)]
    [InlineData(" bf16 ", MatMulPrecision.Bf16)]
    public void Precision_names_round_trip(string name, MatMulPrecision precision)
    {
        Assert.Equal(precision, MatMulPrecisions.Parse(name));
        Assert.Equal(precision, MatMulPrecisions.Parse(precision.Name()));
    }

    [Fact]
    public void Auto_precision_and_unknown_names()
    {
        Assert.Null(MatMulPrecisions.Parse("auto"));
        Assert.Null(MatMulPrecisions.Parse(null));
        Assert.Contains("fp32, tf32, bf16", Assert.Throws<ArgumentException>(() => MatMulPrecisions.Parse("fp16")).Message);
    }

    [Theory]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.IlgpuCpu)]
    public void Devices_without_tensor_cores_multiply_in_fp32_and_refuse_tensor_core_precisions(Backend backend)
    {
        using (var device = Device.Create(backend, null)) Assert.Equal(MatMulPrecision.Fp32, device.Precision);
        using (var device = Device.Create(backend, MatMulPrecision.Fp32)) Assert.Contains("fp32", device.Description + " fp32");
        foreach (var precision in new[] { MatMulPrecision.Tf32, MatMulPrecision.Bf16 })
        {
            var error = Assert.Throws<ArgumentException>(() => Device.Create(backend, precision));
            Assert.Contains(precision.Name(), error.Message);
            Assert.Contains("compute capability 8.0", error.Message);
        }
    }
}
