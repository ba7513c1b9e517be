using Xunit;

namespace IlgpuDiffusion.Tests.IlgpuBackend;

/// <summary>Linear forward (bias fused into the GEMM) and backward (three accumulating gradients) on ilgpu-cpu.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class LinearKernelTests(IlgpuCpuFixture fixture)
{
    [Theory]
    [InlineData(7, 5, 9, true)]
    [InlineData(10, 17, 3, false)]
    public void ForwardAndBackwardMatchHost(int rows, int inChannels, int outChannels, bool withBias)
    {
        float[] x = TestData.Random(rows * inChannels, 1), w = TestData.Random(outChannels * inChannels, 2), b = TestData.Random(outChannels, 3);
        float[] dy = TestData.Random(rows * outChannels, 4), dx0 = TestData.Random(rows * inChannels, 5);
        float[] dw0 = TestData.Random(outChannels * inChannels, 6), db0 = TestData.Random(outChannels, 7);

        var expectedY = new double[rows * outChannels];
        var expectedDx = dx0.Select(v => (double)v).ToArray();
        var expectedDw = dw0.Select(v => (double)v).ToArray();
        var expectedDb = db0.Select(v => (double)v).ToArray();
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outChannels; o++)
            {
                double sum = withBias ? b[o] : 0;
                for (int i = 0; i < inChannels; i++)
                {
                    sum += (double)x[r * inChannels + i] * w[o * inChannels + i];
                    expectedDx[r * inChannels + i] += (double)dy[r * outChannels + o] * w[o * inChannels + i];
                    expectedDw[o * inChannels + i] += (double)dy[r * outChannels + o] * x[r * inChannels + i];
                }
                expectedY[r * outChannels + o] = sum;
                expectedDb[o] += dy[r * outChannels + o];
            }

        var input = fixture.Upload(x);
        var weight = fixture.Upload(w);
        var output = fixture.Upload(TestData.Random(rows * outChannels, 8)); // overwritten, not accumulated
        fixture.Kernels.LinearForward(input, weight, withBias ? fixture.Upload(b) : null, output, rows, inChannels, outChannels);
        TestData.Close(expectedY, output.ToArray());

        var dInput = fixture.Upload(dx0);
        var dWeight = fixture.Upload(dw0);
        var dBias = fixture.Upload(db0);
        fixture.Kernels.LinearBackward(fixture.Upload(dy), input, weight, dInput, dWeight, withBias ? dBias : null, rows, inChannels, outChannels);
        TestData.Close(expectedDx, dInput.ToArray());
        TestData.Close(expectedDw, dWeight.ToArray());
        TestData.Close(withBias ? expectedDb : db0.Select(v => (double)v).ToArray(), dBias.ToArray());
    }
}
