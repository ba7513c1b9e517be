using Xunit;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Tests.IlgpuBackend;

/// <summary>The ILGPU GEMM against a double host product, all layouts, odd sizes crossing tile edges.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class MatMulKernelTests(IlgpuCpuFixture fixture)
{
    [Theory]
    [InlineData(MatMulLayout.ABt, 9, 17, 5, false)]
    [InlineData(MatMulLayout.AB, 9, 17, 5, true)]
    [InlineData(MatMulLayout.AtB, 10, 3, 9, false)]
    [InlineData(MatMulLayout.AtB, 1, 1, 1, true)]
    [InlineData(MatMulLayout.ABt, 3, 4, 0, true)]
    public void MatMulMatchesHostProduct(MatMulLayout layout, int m, int n, int k, bool accumulate)
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
}
