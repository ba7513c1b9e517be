using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Kernels;
using Xunit;

namespace IlgpuDiffusion.Tests.IlgpuBackend;

/// <summary>Properties of the ILGPU backend itself: launch shapes, bitwise-repeatable reductions, empty views.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class IlgpuBackendTests(IlgpuCpuFixture fixture)
{
    private Accelerator Accelerator => ((IlgpuDevice)fixture.Device).Accelerator;

    [Fact]
    public void LaunchPlanFitsTheEmulator()
    {
        var plan = new LaunchPlan(Accelerator);
        CheckPlan(plan, Accelerator.MaxNumThreadsPerGroup);
        Assert.True(plan.GemmX * plan.GemmY > Accelerator.WarpSize, "GEMM groups should span several warps in tests");
    }

    [Theory]
    [InlineData(AcceleratorType.Cuda, 32, 1024)]
    [InlineData(AcceleratorType.OpenCL, 32, 256)]
    [InlineData(AcceleratorType.OpenCL, 16, 128)]
    public void LaunchPlanFitsGpus(AcceleratorType type, int warp, int maxGroup)
    {
        var plan = new LaunchPlan(type, warp, maxGroup);
        CheckPlan(plan, maxGroup);
        Assert.InRange(MatMulKernels.SharedFloats(plan.GemmX, plan.GemmY, plan.GemmTileK) * sizeof(float), 1, 48 * 1024);
        if (maxGroup >= 256) Assert.Equal((64, 64), (4 * plan.GemmY, 4 * plan.GemmX));
    }

    private static void CheckPlan(LaunchPlan plan, int max)
    {
        Assert.InRange(plan.GemmX * plan.GemmY, 2, max);
        Assert.InRange(plan.RowGroup, 2, max);
        Assert.InRange(plan.ColumnX * plan.ColumnY, 2, max);
        Assert.Equal(0, plan.RowGroup & (plan.RowGroup - 1));
        Assert.Equal(0, plan.ColumnY & (plan.ColumnY - 1));
        Assert.Equal(4 * plan.GemmY, 1 << plan.GemmTileMShift);
        Assert.Equal(4 * plan.GemmX, 1 << plan.GemmTileNShift);
        Assert.Equal(plan.GemmTileK, 1 << plan.GemmTileKShift);
    }

    [Fact]
    public void TokenReductionsRepeatBitForBit()
    {
        const int batch = 2, tokens = 23, channels = 6;
        var dy = fixture.Upload(TestData.Random(batch * tokens * channels, 1));
        var branch = fixture.Upload(TestData.Random(batch * tokens * channels, 2));
        var gate = fixture.Upload(TestData.Random(batch * channels, 3));
        var weight = fixture.Upload(TestData.Random(channels * channels, 4));
        float[] Run()
        {
            var dGate = fixture.Upload(new float[batch * channels]);
            var dBias = fixture.Upload(new float[channels]);
            fixture.Kernels.GatedResidualBackward(dy, branch, gate, fixture.Upload(new float[batch * tokens * channels]), dGate, batch, tokens, channels);
            fixture.Kernels.LinearBackward(dy, branch, weight, null, null, dBias, batch * tokens, channels, channels);
            return [.. dGate.ToArray(), .. dBias.ToArray()];
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void EmptyTensorsAtTheEndOfABufferAreAccepted()
    {
        var buffer = fixture.Device.Allocate<float>(4);
        var empty = new Tensor<float>(buffer, 4, new Shape(0));
        fixture.Kernels.Fill(empty, 1f, 0);
        var result = fixture.Upload(new float[] { float.NaN });
        fixture.Kernels.SumOfSquares(empty, result, 0);
        Assert.Equal(0f, result.ToArray()[0]);
    }
}
