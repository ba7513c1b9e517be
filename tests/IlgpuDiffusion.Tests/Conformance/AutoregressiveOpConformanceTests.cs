using IlgpuDiffusion.Compute;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>Op set III: the plain softmax cross-entropy and the top-k filter.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class AutoregressiveOpConformanceTests
{
    private const int Vocabulary = 50257;

    public static IEnumerable<object[]> Shapes =>
        from row in TestBackends.All
        from shape in (string)row[0] == "ilgpu-cpu" ? new[] { (3, 7), (2, 1) } : [(3, 7), (2, 1), (4, Vocabulary)]
        select new[] { row[0], shape.Item1, shape.Item2 };

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void Cross_entropy_matches_the_reference_and_finite_differences(string backend, int rows, int classes)
    {
        using var s = new DeviceScope(backend);
        var logits = Random(rows * classes, 11, 6f);
        var targets = Enumerable.Range(0, rows).Select(r => (r * 5 + classes - 1) % classes).ToArray();
        var weights = Enumerable.Range(0, rows).Select(r => r == 1 ? 0f : 1f / (0.5f + r)).ToArray();
        const float gradScale = 0.5f;
        var (losses, dLogits) = (s.Zeros(rows), s.Upload(Random(rows * classes, 12)));
        var (logitsT, targetsT, weightsT) = (s.Upload(logits), s.Upload(targets), s.Upload(weights));
        s.Kernels.CrossEntropy(logitsT, targetsT, weightsT, losses, dLogits, rows, classes, classes, gradScale);
        var expected = Reference(D(logits), targets, D(weights), classes);
        AssertClose(expected, DeviceScope.Download(losses), 1e-5, "losses");
        var gradient = DeviceScope.Download(dLogits);
        Assert.All(gradient[classes..(2 * classes)], v => Assert.Equal(0f, v)); // weight-0 row
        if (classes <= 16)
        {
            var fd = FiniteDifference(v => Reference(v, targets, D(weights), classes), D(logits),
                Enumerable.Repeat((double)gradScale, rows).ToArray());
            AssertClose(fd, gradient, 1e-4, "dLogits");
        }
        var lossesOnly = s.Zeros(rows);
        s.Kernels.CrossEntropy(logitsT, targetsT, weightsT, lossesOnly, null, rows, classes, classes, gradScale);
        AssertClose(expected, DeviceScope.Download(lossesOnly), 1e-5, "losses without gradient");
        Assert.Equal(logits, DeviceScope.Download(logitsT));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            s.Kernels.CrossEntropy(logitsT, s.Upload(Enumerable.Repeat(classes, rows).ToArray()), weightsT, losses, null,
                rows, classes, classes, 1f));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Cross_entropy_over_padded_rows_takes_the_first_vocab_classes_and_zeroes_the_padding(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 3, classes = 16, vocab = 11;
        var logits = Random(rows * classes, 14, 6f);
        var targets = new[] { 10, 0, 4 };
        var weights = new[] { 1f, 0.5f, 2f };
        var (losses, dLogits) = (s.Zeros(rows), s.Upload(Random(rows * classes, 15)));
        var (logitsT, targetsT, weightsT) = (s.Upload(logits), s.Upload(targets), s.Upload(weights));
        s.Kernels.CrossEntropy(logitsT, targetsT, weightsT, losses, dLogits, rows, classes, vocab, 1f);
        var unpadded = Enumerable.Range(0, rows).SelectMany(r => logits[(r * classes)..(r * classes + vocab)]).ToArray();
        AssertClose(Reference(D(unpadded), targets, D(weights), vocab), DeviceScope.Download(losses), 1e-5, "losses");
        var gradient = DeviceScope.Download(dLogits);
        var fd = FiniteDifference(v => Reference(v, targets, D(weights), vocab), D(unpadded), [1.0, 1.0, 1.0]);
        for (int r = 0; r < rows; r++)
        {
            AssertClose(fd[(r * vocab)..((r + 1) * vocab)], gradient[(r * classes)..(r * classes + vocab)], 1e-4, "dLogits");
            Assert.All(gradient[(r * classes + vocab)..((r + 1) * classes)], v => Assert.Equal(0f, v));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.CrossEntropy(logitsT, s.Upload(new[] { 0, vocab, 1 }), weightsT,
            losses, null, rows, classes, vocab, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.CrossEntropy(logitsT, targetsT, weightsT, losses, null, rows, classes,
            classes + 1, 1f));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Top_k_keeps_exactly_the_k_largest_and_ties_at_the_cut(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 3, classes = 40, vocab = 37;
        var logits = Random(rows * classes, 13, 4f);
        for (int v = 0; v < vocab; v++) logits[2 * classes + v] *= 0.5f; // row 2: values in ±2, then
        for (int v = 0; v < 6; v++) logits[2 * classes + 3 * v] = 2.5f; // six equal values below one larger
        logits[2 * classes + 1] = 9f;
        foreach (int k in new[] { 1, 3, 7, 36, 37, 50 })
        {
            var t = s.Upload(logits);
            s.Kernels.KeepTopK(t, rows, classes, vocab, k);
            var actual = DeviceScope.Download(t);
            for (int r = 0; r < rows; r++)
            {
                var row = logits.AsSpan(r * classes, vocab).ToArray();
                float kth = row.OrderByDescending(v => v).ElementAt(Math.Min(k, vocab) - 1);
                for (int v = 0; v < classes; v++)
                {
                    float original = logits[r * classes + v], filtered = actual[r * classes + v];
                    if (v >= vocab || original >= kth) Assert.Equal(original, filtered);
                    else Assert.Equal(float.NegativeInfinity, filtered);
                }
            }
        }
        // Row 2 with k = 3: 9 and the six 2.5 values survive (ties at the cut are kept).
        var tied = s.Upload(logits);
        s.Kernels.KeepTopK(tied, rows, classes, vocab, 3);
        Assert.Equal(7, DeviceScope.Download(tied).AsSpan(2 * classes, vocab).ToArray().Count(float.IsFinite));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.KeepTopK(tied, rows, classes, vocab, 0));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Top_k_on_a_gpt2_row_leaves_k_finite_entries(string backend)
    {
        using var s = new DeviceScope(backend);
        var logits = Random(2 * Vocabulary, 14, 10f);
        var t = s.Upload(logits);
        s.Kernels.KeepTopK(t, 2, Vocabulary, Vocabulary, 40);
        var actual = DeviceScope.Download(t);
        for (int r = 0; r < 2; r++)
        {
            var row = actual.AsSpan(r * Vocabulary, Vocabulary).ToArray();
            Assert.Equal(40, row.Count(float.IsFinite));
            float kth = logits.AsSpan(r * Vocabulary, Vocabulary).ToArray().OrderByDescending(v => v).ElementAt(39);
            Assert.Equal(kth, row.Where(float.IsFinite).Min());
        }
    }

    /// <summary>
    /// The decoder's chain (top-k filter, then a nucleus draw on the −∞-filled rows) gives the same ids on both CPU backends, all in the
    /// top k.
    /// </summary>
    [Fact]
    public void Top_k_then_nucleus_draws_agree_across_backends_and_stay_in_the_top_k()
    {
        const int rows = 6, vocab = 37, k = 5;
        var logits = Random(rows * vocab, 15, 3f);
        var draws = new[] { "cpu", "ilgpu-cpu" }.Select(backend =>
        {
            using var s = new DeviceScope(backend);
            var t = s.Upload(logits);
            var ids = s.Upload(new int[rows]);
            s.Kernels.KeepTopK(t, rows, vocab, vocab, k);
            s.Kernels.SampleCategorical(t, ids, rows, vocab, vocab, new SamplingParameters(Seed: 3, Step: 4, Temperature: 0.7f,
                TopP: 0.8f));
            s.Device.Synchronize();
            return ids.ToArray();
        }).ToArray();
        Assert.Equal(draws[0], draws[1]);
        for (int r = 0; r < rows; r++)
        {
            var row = logits.AsSpan(r * vocab, vocab).ToArray();
            Assert.True(row[draws[0][r]] >= row.OrderByDescending(v => v).ElementAt(k - 1), $"row {r} drew outside the top {k}");
        }
    }

    /// <summary>losses[r] = w_r·(logsumexp(row) − row[target]) in double.</summary>
    private static double[] Reference(double[] logits, int[] targets, double[] weights, int classes)
    {
        var losses = new double[targets.Length];
        for (int r = 0; r < targets.Length; r++)
        {
            var row = logits.AsSpan(r * classes, classes);
            double max = double.NegativeInfinity;
            foreach (double x in row) max = Math.Max(max, x);
            double sum = 0;
            foreach (double x in row) sum += Math.Exp(x - max);
            losses[r] = weights[r] * (max + Math.Log(sum) - row[targets[r]]);
        }
        return losses;
    }
}
