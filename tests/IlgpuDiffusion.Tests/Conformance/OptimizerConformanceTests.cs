using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>AdamW, the squared gradient norm and the EMA update.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class OptimizerConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void AdamW_matches_reference_over_several_steps(string backend)
    {
        using var s = new DeviceScope(backend);
        int n = backend == "ilgpu-cpu" ? 37 : 5003;
        var hyper = new AdamWParameters(LearningRate: 3e-3f, WeightDecay: 0.1f);
        var (p, m, v) = (D(Random(n, 1)), new double[n], new double[n]);
        var (pT, mT, vT) = (s.Upload(Random(n, 1)), s.Zeros(n), s.Zeros(n));
        for (int step = 1; step <= 3; step++)
        {
            var g = Random(n, 10 + step);
            const float gradScale = 0.5f;
            s.Kernels.AdamWStep(pT, s.Upload(g), mT, vT, n, hyper, step, gradScale);
            (p, m, v) = ReferenceElementwise.AdamW(p, D(g), m, v, hyper, step, gradScale);
        }
        AssertClose(p, DeviceScope.Download(pT), 1e-5, "parameters");
        AssertClose(m, DeviceScope.Download(mT), 1e-5, "first moment");
        AssertClose(v, DeviceScope.Download(vT), 1e-4, "second moment");
    }

    /// <summary>
    /// The clip factor computed on the device gives the same update, bit for bit, as the host's factor passed to AdamWStep:
    /// clipping (a large norm), not clipping (a small one), clipping off (max norm 0); a sum of squares that is not finite
    /// updates nothing.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Clipped_AdamW_reads_its_factor_from_the_device_as_the_host_computes_it(string backend)
    {
        using var s = new DeviceScope(backend);
        int n = backend == "ilgpu-cpu" ? 37 : 5003;
        var hyper = new AdamWParameters(LearningRate: 3e-3f, WeightDecay: 0.1f);
        foreach (var (sumOfSquares, maxNorm) in new[] { (400f, 1.0), (0.25f, 1.0), (400f, 0.0), (float.NaN, 1.0),
            (float.PositiveInfinity, 1.0) })
        {
            var (p, g) = (Random(n, 1), Random(n, 2));
            var (expectedP, expectedM, expectedV) = (s.Upload(p), s.Zeros(n), s.Zeros(n));
            var (actualP, actualM, actualV) = (s.Upload(p), s.Zeros(n), s.Zeros(n));
            float factor = GradientClipping.Factor(sumOfSquares, maxNorm);
            if (!float.IsNaN(factor)) s.Kernels.AdamWStep(expectedP, s.Upload(g), expectedM, expectedV, n, hyper, 1, factor);
            s.Kernels.ClippedAdamWStep(actualP, s.Upload(g), actualM, actualV, n, hyper, 1, s.Upload([sumOfSquares]), maxNorm);
            Assert.Equal(DeviceScope.Download(expectedP), DeviceScope.Download(actualP));
            Assert.Equal(DeviceScope.Download(expectedM), DeviceScope.Download(actualM));
            Assert.Equal(DeviceScope.Download(expectedV), DeviceScope.Download(actualV));
        }
        Assert.Equal(0.05f, GradientClipping.Factor(400f, 1.0), 6);
        Assert.Equal(1f, GradientClipping.Factor(0.25f, 1.0));
        Assert.Equal(1f, GradientClipping.Factor(400f, 0.0));
    }

    /// <summary>
    /// With an EMA, the clipped step updates the average in the same pass exactly as AdamWStep followed by EmaUpdate
    /// does, and leaves it alone where the sum of squares is not finite.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Clipped_AdamW_with_an_EMA_equals_the_step_then_the_EMA_update(string backend)
    {
        using var s = new DeviceScope(backend);
        int n = backend == "ilgpu-cpu" ? 37 : 5003;
        var hyper = new AdamWParameters(LearningRate: 3e-3f, WeightDecay: 0.1f);
        const float decay = 0.9f;
        foreach (float sumOfSquares in new[] { 400f, float.NaN })
        {
            var (p, g, ema) = (Random(n, 1), Random(n, 2), Random(n, 3));
            var (expectedP, expectedM, expectedV, expectedEma) = (s.Upload(p), s.Zeros(n), s.Zeros(n), s.Upload(ema));
            var (actualP, actualM, actualV, actualEma) = (s.Upload(p), s.Zeros(n), s.Zeros(n), s.Upload(ema));
            float factor = GradientClipping.Factor(sumOfSquares, 1.0);
            if (!float.IsNaN(factor))
            {
                s.Kernels.AdamWStep(expectedP, s.Upload(g), expectedM, expectedV, n, hyper, 2, factor);
                s.Kernels.EmaUpdate(expectedP, expectedEma, n, decay);
            }
            s.Kernels.ClippedAdamWStep(actualP, s.Upload(g), actualM, actualV, n, hyper, 2, s.Upload([sumOfSquares]), 1.0, actualEma,
                decay);
            Assert.Equal(DeviceScope.Download(expectedP), DeviceScope.Download(actualP));
            Assert.Equal(DeviceScope.Download(expectedV), DeviceScope.Download(actualV));
            Assert.Equal(DeviceScope.Download(expectedEma), DeviceScope.Download(actualEma));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Sum_of_squares_matches_reference_and_is_deterministic(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (int n in backend == "ilgpu-cpu" ? new[] { 1, 17, 300 } : [1, 17, 300, 1_000_003])
        {
            var x = Random(n, n);
            var (xT, result) = (s.Upload(x), s.Zeros(1));
            s.Kernels.SumOfSquares(xT, result, n);
            float first = DeviceScope.Download(result)[0];
            s.Kernels.SumOfSquares(xT, result, n);
            Assert.Equal(first, DeviceScope.Download(result)[0]);
            AssertClose([D(x).Sum(v => v * v)], [first], 1e-5, $"n={n}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Ema_update_matches_reference(string backend)
    {
        using var s = new DeviceScope(backend);
        int n = backend == "ilgpu-cpu" ? 23 : 70_001;
        var (p, ema) = (Random(n, 1), Random(n, 2));
        var emaT = s.Upload(ema);
        s.Kernels.EmaUpdate(s.Upload(p), emaT, n, 0.9999f);
        var expected = D(ema).Select((e, i) => 0.9999f * e + (1 - 0.9999f) * p[i]).ToArray();
        AssertClose(expected, DeviceScope.Download(emaT), 1e-6, "ema");
    }
}
