using Xunit;

namespace IlgpuDiffusion.Tests.IlgpuBackend;

/// <summary>LayerNorm (no bias) forward and backward on ilgpu-cpu against a double host computation.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class LayerNormKernelTests(IlgpuCpuFixture fixture)
{
    [Theory]
    [InlineData(3, 11)]
    [InlineData(1, 1)]
    [InlineData(5, 37)]
    public void ForwardAndBackwardMatchHost(int rows, int channels)
    {
        const float eps = 1e-5f;
        float[] x = TestData.Random(rows * channels, 1, 3f), w = TestData.Random(channels, 2), dy = TestData.Random(rows * channels, 3);
        float[] dx0 = TestData.Random(rows * channels, 4), dw0 = TestData.Random(channels, 5);
        for (int i = 0; i < x.Length; i++) x[i] += 2f; // a non-zero mean

        var expectedY = new double[rows * channels];
        var expectedMean = new double[rows];
        var expectedRstd = new double[rows];
        var expectedDx = dx0.Select(v => (double)v).ToArray();
        var expectedDw = dw0.Select(v => (double)v).ToArray();
        for (int r = 0; r < rows; r++)
        {
            var row = x.Skip(r * channels).Take(channels).Select(v => (double)v).ToArray();
            double mean = row.Average(), rstd = 1 / Math.Sqrt(row.Select(v => (v - mean) * (v - mean)).Average() + eps);
            expectedMean[r] = mean;
            expectedRstd[r] = rstd;
            var xHat = row.Select(v => (v - mean) * rstd).ToArray();
            var g = Enumerable.Range(0, channels).Select(c => (double)dy[r * channels + c] * w[c]).ToArray();
            double meanG = g.Average(), meanGx = g.Select((v, c) => v * xHat[c]).Average();
            for (int c = 0; c < channels; c++)
            {
                expectedY[r * channels + c] = xHat[c] * w[c];
                expectedDx[r * channels + c] += rstd * (g[c] - meanG - xHat[c] * meanGx);
                expectedDw[c] += dy[r * channels + c] * xHat[c];
            }
        }

        var input = fixture.Upload(x);
        var weight = fixture.Upload(w);
        var output = fixture.Upload(new float[rows * channels]);
        var meanTensor = fixture.Upload(new float[rows]);
        var rstdTensor = fixture.Upload(new float[rows]);
        fixture.Kernels.LayerNormForward(input, weight, output, meanTensor, rstdTensor, rows, channels, eps);
        TestData.Close(expectedY, output.ToArray(), 1e-4);
        TestData.Close(expectedMean, meanTensor.ToArray(), 1e-5);
        TestData.Close(expectedRstd, rstdTensor.ToArray(), 1e-4);

        var dInput = fixture.Upload(dx0);
        var dWeight = fixture.Upload(dw0);
        fixture.Kernels.LayerNormBackward(fixture.Upload(dy), input, weight, meanTensor, rstdTensor, dInput, dWeight, rows, channels);
        TestData.Close(expectedDx, dInput.ToArray(), 1e-4);
        TestData.Close(expectedDw, dWeight.ToArray(), 1e-4);
    }
}
