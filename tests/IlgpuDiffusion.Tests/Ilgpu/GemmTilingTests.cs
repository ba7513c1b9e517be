using IlgpuDiffusion.Compute;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The ILGPU GEMM at the edges of its tiling on the CPU emulator (8×16 output tiles, k in
/// steps of 4): exact multiples, one past, a single partial tile, and k = 0. The
/// conformance suite covers general shapes; these pin the boundaries of this kernel.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class GemmTilingTests(IlgpuCpuFixture fixture)
{
    [Theory]
    [InlineData(MatMulLayout.ABt, 8, 16, 4, false)]
    [InlineData(MatMulLayout.AB, 9, 17, 5, true)]
    [InlineData(MatMulLayout.AtB, 16, 32, 8, true)]
    [InlineData(MatMulLayout.AtB, 7, 15, 3, false)]
    [InlineData(MatMulLayout.ABt, 3, 4, 0, true)]
    [InlineData(MatMulLayout.AB, 3, 4, 0, false)]
    public void MatMul_matches_the_host_product_at_tile_edges(MatMulLayout layout, int m, int n, int k, bool accumulate)
    {
        float[] a = TestData.Random(m * k, 1), b = TestData.Random(n * k, 2), c = TestData.Random(m * n, 3);
        var expected = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * n + j] : 0;
                for (int p = 0; p < k; p++)
                {
                    double av = layout == MatMulLayout.AtB ? a[p * m + i] : a[i * k + p];
                    double bv = layout == MatMulLayout.ABt ? b[j * k + p] : b[p * n + j];
                    sum += av * bv;
                }
                expected[i * n + j] = sum;
            }

        var cTensor = fixture.Upload(c);
        fixture.Kernels.MatMul(layout, fixture.Upload(a), fixture.Upload(b), cTensor, m, n, k, accumulate);
        TestData.Close(expected, cTensor.ToArray());
    }

    [Fact]
    public void Linear_with_no_input_channels_is_the_bias()
    {
        var output = fixture.Upload(TestData.Random(6, 1));
        var bias = new float[] { 1, 2, 3 };
        fixture.Kernels.LinearForward(fixture.Upload(Array.Empty<float>()), fixture.Upload(Array.Empty<float>()), fixture.Upload(bias),
            output, 2, 0, 3);
        Assert.Equal(new float[] { 1, 2, 3, 1, 2, 3 }, output.ToArray());
    }
}
