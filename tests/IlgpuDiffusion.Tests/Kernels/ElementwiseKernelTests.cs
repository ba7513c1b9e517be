using IlgpuDiffusion.Compute;
using Xunit;

namespace IlgpuDiffusion.Tests.IlgpuBackend;

/// <summary>Fill, copy, activations and dropout on ilgpu-cpu against double host formulas.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class ElementwiseKernelTests(IlgpuCpuFixture fixture)
{
    private const int Count = 13;

    [Fact]
    public void FillAndCopyTouchOnlyCountElements()
    {
        var x = fixture.Upload(TestData.Random(Count, 1));
        fixture.Kernels.Fill(x, 2.5f, Count - 2);
        var filled = x.ToArray();
        Assert.All(filled[..^2], v => Assert.Equal(2.5f, v));

        var source = TestData.Random(Count, 2);
        var destination = fixture.Upload(new float[Count]);
        fixture.Kernels.Copy(fixture.Upload(source), destination, Count - 1);
        var copied = destination.ToArray();
        Assert.Equal(source[..^1], copied[..^1]);
        Assert.Equal(0f, copied[^1]);
    }

    [Fact]
    public void GeluMatchesTanhApproximation()
    {
        float[] x = TestData.Random(Count, 3, 4f), dy = TestData.Random(Count, 4), dx0 = TestData.Random(Count, 5);
        static double T(double v) => Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v));
        var forward = x.Select(v => 0.5 * v * (1 + T(v))).ToArray();
        var backward = x.Select((v, i) =>
        {
            double t = T(v);
            double d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * Math.Sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * v * v);
            return dx0[i] + d * dy[i];
        }).ToArray();
        CheckActivation(fixture.Kernels.GeluForward, fixture.Kernels.GeluBackward, x, dy, dx0, forward, backward);
    }

    [Fact]
    public void SiluMatchesHostFormula()
    {
        float[] x = TestData.Random(Count, 6, 6f), dy = TestData.Random(Count, 7), dx0 = TestData.Random(Count, 8);
        static double S(double v) => 1 / (1 + Math.Exp(-v));
        var forward = x.Select(v => v * S(v)).ToArray();
        var backward = x.Select((v, i) => dx0[i] + S(v) * (1 + v * (1 - S(v))) * dy[i]).ToArray();
        CheckActivation(fixture.Kernels.SiluForward, fixture.Kernels.SiluBackward, x, dy, dx0, forward, backward);
    }

    private void CheckActivation(Action<Tensor<float>, Tensor<float>, int> forward, Action<Tensor<float>, Tensor<float>, Tensor<float>, int> backward,
        float[] x, float[] dy, float[] dx0, double[] expectedForward, double[] expectedBackward)
    {
        var input = fixture.Upload(x);
        var output = fixture.Upload(new float[Count]);
        forward(input, output, Count);
        TestData.Close(expectedForward, output.ToArray(), 1e-5);

        forward(input, input, Count); // in place
        TestData.Close(expectedForward, input.ToArray(), 1e-5);

        var dInput = fixture.Upload(dx0);
        backward(fixture.Upload(dy), fixture.Upload(x), dInput, Count);
        TestData.Close(expectedBackward, dInput.ToArray(), 1e-5);
    }

    [Theory]
    [InlineData(0.0f)]
    [InlineData(0.3f)]
    public void DropoutUsesThePhiloxMaskInBothDirections(float p)
    {
        const ulong seed = 0x1234_5678_9ABCUL, stream = 7;
        float[] x = TestData.Random(Count, 9), dy = TestData.Random(Count, 10), dx0 = TestData.Random(Count, 11);
        var keep = Enumerable.Range(0, Count).Select(i => Philox.Uniform(seed, stream, i) >= p).ToArray();
        double scale = 1 / (1 - (double)p);

        var output = fixture.Upload(new float[Count]);
        fixture.Kernels.DropoutForward(fixture.Upload(x), output, Count, p, seed, stream);
        TestData.Close(x.Select((v, i) => keep[i] ? v * scale : 0).ToArray(), output.ToArray(), 1e-6);

        var dInput = fixture.Upload(dx0);
        fixture.Kernels.DropoutBackward(fixture.Upload(dy), dInput, Count, p, seed, stream);
        TestData.Close(dy.Select((v, i) => dx0[i] + (keep[i] ? v * scale : 0)).ToArray(), dInput.ToArray(), 1e-6);
        if (p > 0) Assert.Contains(false, keep);
    }
}
