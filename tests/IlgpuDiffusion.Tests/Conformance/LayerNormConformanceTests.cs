using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>LayerNorm without bias: forward with saved statistics, backward by finite differences.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class LayerNormConformanceTests
{
    private const float Eps = 1e-5f;

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Forward_matches_reference_and_saves_mean_and_rstd(string backend) =>
        CheckForward(backend, [(1, 1), (3, 5), (2, 33), (4, 64)]);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Forward_matches_reference_on_model_shapes(string backend) =>
        CheckForward(backend, [(130, 768), (7, 1031)]);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Backward_accumulates_finite_difference_gradients(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (rows, channels) in new[] { (1, 1), (3, 5), (2, 17) })
        {
            var x = Random(rows * channels, 1, 2f);
            var w = Random(channels, 2);
            var dy = Random(rows * channels, 3);
            var (priorX, priorW) = (Random(rows * channels, 4), Random(channels, 5));
            var (y, mean, rstd) = (s.Zeros(rows * channels), s.Zeros(rows), s.Zeros(rows));
            var (xT, wT) = (s.Upload(x), s.Upload(w));
            var (dx, dw) = (s.Upload(priorX), s.Upload(priorW));
            s.Kernels.LayerNormForward(xT, wT, y, mean, rstd, rows, channels, Eps);
            s.Kernels.LayerNormBackward(s.Upload(dy), xT, wT, mean, rstd, dx, dw, rows, channels);
            var fdX = FiniteDifference(v => ReferenceNormalization.LayerNorm(v, D(w), rows, channels, Eps).Output, D(x), D(dy));
            var fdW = FiniteDifference(v => ReferenceNormalization.LayerNorm(D(x), v, rows, channels, Eps).Output, D(w), D(dy));
            AssertClose(Add(D(priorX), fdX), DeviceScope.Download(dx), 1e-4, $"dInput {rows}x{channels}");
            AssertClose(Add(D(priorW), fdW), DeviceScope.Download(dw), 1e-4, $"dWeight {rows}x{channels}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Backward_matches_reference_on_model_shapes(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 301, channels = 768;
        var (x, w, dy) = (Random(rows * channels, 1, 3f), Random(channels, 2), Random(rows * channels, 3));
        var (y, mean, rstd, dx, dw) = (s.Zeros(rows * channels), s.Zeros(rows), s.Zeros(rows), s.Zeros(rows * channels), s.Zeros(channels));
        var (xT, wT) = (s.Upload(x), s.Upload(w));
        s.Kernels.LayerNormForward(xT, wT, y, mean, rstd, rows, channels, Eps);
        s.Kernels.LayerNormBackward(s.Upload(dy), xT, wT, mean, rstd, dx, dw, rows, channels);
        var expected = ReferenceNormalization.LayerNormBackward(D(dy), D(x), D(w), rows, channels, Eps);
        AssertClose(expected.DInput, DeviceScope.Download(dx), 1e-4, "dInput");
        AssertClose(expected.DWeight, DeviceScope.Download(dw), 1e-4, "dWeight");
    }

    private static void CheckForward(string backend, (int Rows, int Channels)[] shapes)
    {
        using var s = new DeviceScope(backend);
        foreach (var (rows, channels) in shapes)
        {
            // An offset of 10 makes a one-pass variance lose precision; the kernels must not.
            var x = Random(rows * channels, 1, 2f).Select(v => v + 10f).ToArray();
            var w = Random(channels, 2);
            var (y, mean, rstd) = (s.Zeros(rows * channels), s.Zeros(rows), s.Zeros(rows));
            s.Kernels.LayerNormForward(s.Upload(x), s.Upload(w), y, mean, rstd, rows, channels, Eps);
            var expected = ReferenceNormalization.LayerNorm(D(x), D(w), rows, channels, Eps);
            AssertClose(expected.Output, DeviceScope.Download(y), 1e-4, $"output {rows}x{channels}");
            AssertClose(expected.Mean, DeviceScope.Download(mean), 1e-5, $"mean {rows}x{channels}");
            AssertClose(expected.Rstd, DeviceScope.Download(rstd), 1e-4, $"rstd {rows}x{channels}");
        }
    }
}
