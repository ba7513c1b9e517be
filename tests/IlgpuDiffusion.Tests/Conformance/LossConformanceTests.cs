using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>SUBS log-softmax, the fused SUBS cross-entropy and row gather/scatter.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class LossConformanceTests
{
    private const int Vocabulary = 50258, Mask = 50257, PaddedVocabulary = 50304;

    // (rows, classes, vocab, mask): rows of `classes` entries whose first `vocab` take part, the rest a padded head's
    // padding (NaN here, so a kernel that reads it fails). 300 classes give each thread of an emulated row group many,
    // so its running maximum grows and its sum is rescaled.
    public static IEnumerable<object[]> Shapes =>
        from row in TestBackends.All
        from shape in (string)row[0] == "ilgpu-cpu"
            ? new[] { (3, 7, 7, 6), (2, 5, 5, 0), (3, 300, 300, 150), (3, 12, 7, 6) }
            : [(3, 7, 7, 6), (2, 5, 5, 0), (3, 300, 300, 150), (3, 12, 7, 6), (5, PaddedVocabulary, Vocabulary, Mask)]
        select new[] { row[0], shape.Item1, shape.Item2, shape.Item3, shape.Item4 };

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void Subs_log_softmax_normalizes_and_suppresses_mask(string backend, int rows, int classes, int vocab, int mask)
    {
        using var s = new DeviceScope(backend);
        var logits = PaddedRows(Random(rows * classes, 1, 8f), classes, vocab);
        var output = s.Zeros(rows * classes);
        s.Kernels.SubsLogSoftmax(s.Upload(logits), output, rows, classes, vocab, mask);
        var actual = DeviceScope.Download(output);
        var expected = ReferenceLosses.SubsLogSoftmax(D(Vocabularies(logits, classes, vocab)), rows, vocab, mask);
        AssertClose(WithoutMask(expected, vocab, mask), WithoutMask(Vocabularies(actual, classes, vocab), vocab, mask), 1e-5,
            "log-probs");
        for (int r = 0; r < rows; r++) Assert.InRange(actual[r * classes + mask], -1.0001e6f, -0.9999e6f);
        Assert.All(Paddings(actual, classes, vocab), v => Assert.Equal(float.NegativeInfinity, v));
    }

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void Cross_entropy_loss_and_gradient_match_reference_and_finite_differences(string backend, int rows, int classes,
        int vocab, int mask)
    {
        using var s = new DeviceScope(backend);
        var logits = PaddedRows(Random(rows * classes, 2, 6f), classes, vocab);
        var targets = Enumerable.Range(0, rows)
            .Select(r => (mask + 1 + r * 7) % vocab)
            .Select(t => t == mask ? (t + 1) % vocab : t)
            .ToArray();
        var weights = Enumerable.Range(0, rows).Select(r => r == 1 ? 0f : 1f / (0.1f + 0.2f * r)).ToArray();
        const float gradScale = 0.25f;
        var (losses, dLogits) = (s.Zeros(rows), s.Upload(Random(rows * classes, 3)));
        var (logitsT, targetsT, weightsT) = (s.Upload(logits), s.Upload(targets), s.Upload(weights));
        s.Kernels.SubsCrossEntropy(logitsT, targetsT, weightsT, losses, dLogits, rows, classes, vocab, mask, gradScale);
        var vocabularyLogits = D(Vocabularies(logits, classes, vocab));
        var expected = ReferenceLosses.SubsCrossEntropy(vocabularyLogits, targets, D(weights), vocab, mask);
        AssertClose(expected, DeviceScope.Download(losses), 1e-5, "losses");
        var gradient = DeviceScope.Download(dLogits);
        Assert.All(gradient[classes..(2 * classes)], v => Assert.Equal(0f, v)); // weight-0 row
        Assert.All(Paddings(gradient, classes, vocab), v => Assert.Equal(0f, v));
        if (vocab <= 16)
        {
            var fd = FiniteDifference(v => ReferenceLosses.SubsCrossEntropy(v, targets, D(weights), vocab, mask), vocabularyLogits,
                Enumerable.Repeat((double)gradScale, rows).ToArray());
            AssertClose(fd, Vocabularies(gradient, classes, vocab), 1e-4, "dLogits");
        }
        // Forward only: same losses, logits untouched.
        var lossesOnly = s.Zeros(rows);
        s.Kernels.SubsCrossEntropy(logitsT, targetsT, weightsT, lossesOnly, null, rows, classes, vocab, mask, gradScale);
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
        s.Kernels.SubsCrossEntropy(s.Upload(logits), targetsT, weightsT, s.Zeros(rows), separate, rows, classes, classes, mask, 1f);
        s.Kernels.SubsCrossEntropy(inPlace, targetsT, weightsT, s.Zeros(rows), inPlace, rows, classes, classes, mask, 1f);
        Assert.Equal(DeviceScope.Download(separate), DeviceScope.Download(inPlace));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Targets_that_are_mask_padding_or_out_of_range_are_rejected(string backend)
    {
        using var s = new DeviceScope(backend);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            s.Kernels.SubsCrossEntropy(s.Zeros(8), s.Upload(new[] { 0, 3 }), s.Zeros(2), s.Zeros(2), null, 2, 4, 4, 3, 1f));
        Assert.Contains("[1] = 3", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => // class 4 is padding: the vocabulary is 0..3
            s.Kernels.SubsCrossEntropy(s.Zeros(12), s.Upload(new[] { 4, 0 }), s.Zeros(2), s.Zeros(2), null, 2, 6, 4, 3, 1f));
        Assert.Contains("[0] = 4", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => // a vocabulary wider than the rows
            s.Kernels.SubsLogSoftmax(s.Zeros(8), s.Zeros(8), 2, 4, 5, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => // MASK in the padding
            s.Kernels.SubsLogSoftmax(s.Zeros(8), s.Zeros(8), 2, 4, 3, 3));
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

    /// <summary><paramref name="x"/> with NaN in the padding of each row (entries vocab .. classes).</summary>
    internal static float[] PaddedRows(float[] x, int classes, int vocab) =>
        x.Select((v, i) => i % classes < vocab ? v : float.NaN).ToArray();

    /// <summary>The first <paramref name="vocab"/> entries of each row of <paramref name="classes"/>, rows after rows.</summary>
    internal static float[] Vocabularies(float[] x, int classes, int vocab) => x.Where((_, i) => i % classes < vocab).ToArray();

    /// <summary>The padding entries (vocab .. classes) of each row.</summary>
    internal static float[] Paddings(float[] x, int classes, int vocab) => x.Where((_, i) => i % classes >= vocab).ToArray();

    private static float[] WithoutMask(float[] x, int classes, int mask) => x.Where((_, i) => i % classes != mask).ToArray();
}
