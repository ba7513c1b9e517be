using IlgpuDiffusion.Compute;
using Xunit;

namespace IlgpuDiffusion.Tests.IlgpuBackend;

/// <summary>AdamW, EMA and the deterministic sum of squares on ilgpu-cpu.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class OptimizerKernelTests(IlgpuCpuFixture fixture)
{
    [Fact]
    public void AdamWFollowsPyTorchSemantics()
    {
        const int count = 9, step = 3;
        const float gradScale = 0.5f;
        var hyper = new AdamWParameters(1e-2f, 0.9f, 0.99f, 1e-6f, 0.1f);
        float[] p = TestData.Random(count, 1), g = TestData.Random(count, 2), m = TestData.Random(count, 3, 0.1f), v = TestData.Random(count, 4, 0.1f);
        for (int i = 0; i < count; i++) v[i] = Math.Abs(v[i]);

        var expectedP = new double[count];
        var expectedM = new double[count];
        var expectedV = new double[count];
        for (int i = 0; i < count; i++)
        {
            double grad = g[i] * (double)gradScale, param = p[i] * (1 - (double)hyper.LearningRate * hyper.WeightDecay);
            expectedM[i] = hyper.Beta1 * (double)m[i] + (1 - (double)hyper.Beta1) * grad;
            expectedV[i] = hyper.Beta2 * (double)v[i] + (1 - (double)hyper.Beta2) * grad * grad;
            double mHat = expectedM[i] / (1 - Math.Pow(hyper.Beta1, step)), vHat = expectedV[i] / (1 - Math.Pow(hyper.Beta2, step));
            expectedP[i] = param - hyper.LearningRate * mHat / (Math.Sqrt(vHat) + hyper.Epsilon);
        }

        Tensor<float> pt = fixture.Upload(p), mt = fixture.Upload(m), vt = fixture.Upload(v);
        fixture.Kernels.AdamWStep(pt, fixture.Upload(g), mt, vt, count, hyper, step, gradScale);
        TestData.Close(expectedP, pt.ToArray(), 1e-5);
        TestData.Close(expectedM, mt.ToArray(), 1e-5);
        TestData.Close(expectedV, vt.ToArray(), 1e-5);
    }

    [Fact]
    public void EmaBlendsTowardTheParameters()
    {
        float[] p = TestData.Random(7, 1), e = TestData.Random(7, 2);
        var ema = fixture.Upload(e);
        fixture.Kernels.EmaUpdate(fixture.Upload(p), ema, 7, 0.9f);
        TestData.Close(e.Select((v, i) => 0.9 * v + 0.1 * p[i]).ToArray(), ema.ToArray(), 1e-6);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(200)]
    public void SumOfSquaresIsExactEnoughAndRepeatable(int count)
    {
        float[] x = TestData.Random(count, 3);
        var result = fixture.Upload(new float[] { float.NaN });
        var input = fixture.Upload(x.Length == 0 ? new float[1] : x);
        fixture.Kernels.SumOfSquares(input, result, count);
        float first = result.ToArray()[0];
        TestData.Close([x.Sum(v => (double)v * v)], [first], 1e-5);

        fixture.Kernels.SumOfSquares(input, result, count);
        Assert.Equal(BitConverter.SingleToInt32Bits(first), BitConverter.SingleToInt32Bits(result.ToArray()[0]));
    }
}
