using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The normalization kernels' other way of summing a vector's lanes, through shared memory (accelerators without warp
/// shuffles, such as most OpenCL devices, take it), on ILGPU's CPU accelerator against the conformance suite's references;
/// the suite itself runs the warp-shuffle kernels there.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class SharedRowSumsTests : IDisposable
{
    private readonly Device _device = new IlgpuDevice(Backend.IlgpuCpu, IlgpuRuntime.CreateAccelerator(Backend.IlgpuCpu, 0),
        MatMulPrecision.Fp32, choices: new KernelChoices(WarpRowSums: false));

    [Fact]
    public void LayerNorm_forward_matches_the_reference()
    {
        using var s = new DeviceScope(_device);
        LayerNormConformanceTests.CheckForward(s, [.. LayerNormConformanceTests.SmallRows, (130, 768)]);
    }

    [Fact]
    public void LayerNorm_then_modulate_in_one_pass_equals_the_two_ops()
    {
        using var s = new DeviceScope(_device);
        LayerNormConformanceTests.CheckLayerNormThenModulate(s);
    }

    [Fact]
    public void LayerNorm_backward_matches_the_reference_for_short_model_and_long_rows()
    {
        using var s = new DeviceScope(_device);
        LayerNormConformanceTests.CheckBackward(s, 9, 40);
        LayerNormConformanceTests.CheckBackward(s, 37, 768);
        LayerNormConformanceTests.CheckBackward(s, 3, 12_400);
    }

    [Fact]
    public void QkNorm_matches_the_reference_forward_and_backward()
    {
        using var s = new DeviceScope(_device);
        LayerNormConformanceTests.CheckQkNormForward(s, [(1, 1, 2), (2, 3, 34), (1, 3, 5), (33, 4, 64)]);
        LayerNormConformanceTests.CheckQkNormBackward(s);
    }

    /// <inheritdoc/>
    public void Dispose() => _device.Dispose();
}
