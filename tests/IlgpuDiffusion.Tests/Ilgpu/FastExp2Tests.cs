using IlgpuDiffusion.Ilgpu.Kernels;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// 2^x as the attention kernels take it off the GPU (ILGPU's CPU accelerator, where the emulated tensor-core tests run):
/// what <c>ex2.approx.ftz.f32</c> gives on CUDA, exact powers, −∞ to 0, and results below the smallest normal float
/// flushed to zero.
/// </summary>
public sealed class FastExp2Tests
{
    [Theory]
    [InlineData(0f, 1f)]
    [InlineData(3f, 8f)]
    [InlineData(-1f, 0.5f)]
    [InlineData(-126f, 1.17549435e-38f)] // the smallest normal float
    [InlineData(-127f, 0f)] // subnormal: flushed
    [InlineData(-200f, 0f)]
    [InlineData(float.NegativeInfinity, 0f)]
    [InlineData(float.PositiveInfinity, float.PositiveInfinity)]
    public void Gives_powers_of_two_with_subnormal_results_flushed(float x, float expected) =>
        Assert.Equal(expected, FastExp2.Of(x));

    [Fact]
    public void Is_the_exponential_in_base_two()
    {
        for (float x = -20f; x <= 20f; x += 0.37f)
            Assert.Equal(MathF.Exp(x), FastExp2.Of(x * FastExp2.Log2E), MathF.Exp(x) * 1e-6f);
    }
}
