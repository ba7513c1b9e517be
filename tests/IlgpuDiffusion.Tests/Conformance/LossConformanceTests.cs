using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>SUBS log-softmax, the fused SUBS cross-entropy and row gather/scatter.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class LossConformanceTests
{
    private const int Vocabulary = 50258, Mask = 50257;

    // 300 classes give each thread of an emulated row group many, so its running maximum grows and its sum is rescaled.
    public static IEnumerable<object[]> Shapes =>
        from row in TestBackends.All
        from shape in (string)row[0] == "ilgpu-cpu"
            ? new[] { (3, 7, 6), (2, 5, 0), (3, 300, 150) }
            : [(3, 7, 6), (2, 5, 0), (3, 300, 150), (5, Vocabulary, Mask)]
        select new[] { row[0], shape.Item1, shape.Item2, shape.Item3 };

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void Subs_log_softmax_normalizes_and_suppresses_mask(string backend, int rows, int classes, int mask)
    {
        using var s = new DeviceScope(backend);
        var logits = Random(rows * classes, 1, 8f);
        var output = s.Zeros(rows * classes);
        s.Kernels.SubsLogSoftmax(s.Upload(logits), output, rows, classes, mask);
        var actual = DeviceScope.Download(output);
        var expected = ReferenceLosses.SubsLogSoftmax(D(logits), rows, classes, mask);
        AssertClose(WithoutMask(expected, classes, mask), WithoutMask(actual, classes, mask), 1e-5, "log-probs");
        for (int r = 0; r < rows; r++) Assert.InRange(actual[r * classes + mask], -1.0001e6f, -0.9999e6f);
    }

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void Cross_entropy_loss_and_gradient_match_reference_and_finite_differences(string backend, int rows, int classes, int mask)
    {
        using var s = new DeviceScope(backend);
        var logits = Random(rows * classes, 2, 6f);
        var targets = Enumerable.Range(0, rows)
            .Select(r => (mask + 1 + r * 7) % classes)
            .Select(t => t == mask ? (t + 1) % classes : t)
            .ToArray();
        var weights = Enumerable.Range(0, rows).Select(r => r == 1 ? 0f : 1f / (0.1f + 0.2f * r)).ToArray();
        const float gradScale = 0.25f;
        var (losses, dLogits) = (s.Zeros(rows), s.Upload(Random(rows * classes, 3)));
        var (logitsT, targetsT, weightsT) = (s.Upload(logits), s.Upload(targets), s.Upload(weights));
        s.Kernels.SubsCrossEntropy(logitsT, targetsT, weightsT, losses, dLogits, rows, classes, mask, gradScale);
        var expected = ReferenceLosses.SubsCrossEntropy(D(logits), targets, D(weights), classes, mask);
        AssertClose(expected, DeviceScope.Download(losses), 1e-5, "losses");
        var gradient = DeviceScope.Download(dLogits);
        Assert.All(gradient[classes..(2 * classes)], v => Assert.Equal(0f, v)); // weight-0 row
        if (classes <= 16)
        {
            var fd = FiniteDifference(v => ReferenceLosses.SubsCrossEntropy(v, targets, D(weights), classes, mask), D(logits),
                Enumerable.Repeat((double)gradScale, rows).ToArray());
            AssertClose(fd, gradient, 1e-4, "dLogits");
        }
        // Forward only: same losses, logits untouched.
        var lossesOnly = s.Zeros(rows);
        s.Kernels.SubsCrossEntropy(logitsT, targetsT, weightsT, lossesOnly, null, rows, classes, mask, gradScale);
        AssertClose(expected, DeviceScope.Download(lossesOnly), 1e-5, "losses without gradient");
        Assert.Equal(logits, DeviceScope.Download(logitsT));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Cross_entropy_gradient_may_overwrite_the_logits(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 2, classes = 6, mask = 5;
        var logits = Random(rows * classes, 4, 3f);
        int[] targets = [1, 4];
        var (separate, inPlace) = (s.Zeros(rows * classes), s.Upload(logits));
        var (targetsT, weightsT) = (s.Upload(targets), s.Upload(new[] { 2f, 0.5f }));
        s.Kernels.SubsCrossEntropy(s.Upload(logits), targetsT, weightsT, s.Zeros(rows), separate, rows, classes, mask, 1f);
        s.Kernels.SubsCrossEntropy(inPlace, targetsT, weightsT, s.Zeros(rows), inPlace, rows, classes, mask, 1f);
        Assert.Equal(DeviceScope.Download(separate), DeviceScope.Download(inPlace));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Targets_that_are_mask_or_out_of_range_are_rejected(string backend)
    {
        using var s = new DeviceScope(backend);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            s.Kernels.SubsCrossEntropy(s.Zeros(8), s.Upload(new[] { 0, 3 }), s.Zeros(2), s.Zeros(2), null, 2, 4, 3, 1f));
        Assert.Contains("[1] = 3", ex.Message);
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gather_and_scatter_add_move_whole_rows(string backend)
    {
        using var s = new DeviceScope(backend);
        const int n = 6, channels = 5;
        var source = Random(n * channels, 1);
        int[] indices = [4, 0, 5];
        var gathered = s.Zeros(indices.Length * channels);
        var indicesT = s.Upload(indices);
        s.Kernels.GatherRows(s.Upload(source), indicesT, gathered, indices.Length, channels, n);
        var expected = indices.SelectMany(i => source[(i * channels)..((i + 1) * channels)]).ToArray();
        Assert.Equal(expected, DeviceScope.Download(gathered));

        var prior = Random(n * channels, 2);
        var destination = s.Upload(prior);
        s.Kernels.ScatterAddRows(gathered, indicesT, destination, indices.Length, channels, n);
        var scattered = D(prior);
        for (int r = 0; r < indices.Length; r++)
            for (int c = 0; c < channels; c++) scattered[indices[r] * channels + c] += expected[r * channels + c];
        AssertClose(scattered, DeviceScope.Download(destination), 1e-6, "scatter-add");
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Scatter_add_rejects_repeated_rows(string backend)
    {
        using var s = new DeviceScope(backend);
        var ex = Assert.Throws<ArgumentException>(() =>
            s.Kernels.ScatterAddRows(s.Zeros(6), s.Upload(new[] { 2, 0, 2 }), s.Zeros(8), 3, 2, 4));
        Assert.Contains("Row 2 appears more than once", ex.Message);
    }

    private static double[] WithoutMask(double[] x, int classes, int mask) => x.Where((_, i) => i % classes != mask).ToArray();

    private static float[] WithoutMask(float[] x, int classes, int mask) => x.Where((_, i) => i % classes != mask).ToArray();
}
