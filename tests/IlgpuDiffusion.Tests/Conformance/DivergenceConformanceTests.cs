using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>SDTT divergences: value vs reference, zero when student equals teacher, gradient by finite differences.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class DivergenceConformanceTests
{
    public static IEnumerable<object[]> Cases =>
        from row in TestBackends.All
        from kind in Enum.GetValues<Divergence>()
        select new[] { row[0], kind };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Value_and_gradient_match_reference_and_finite_differences(string backend, Divergence kind)
    {
        using var s = new DeviceScope(backend);
        const int rows = 3, classes = 10, vocab = 7, mask = 6; // rows padded past the vocabulary, as a padded head's are
        const float gradScale = 1f / rows;
        var student = Random(rows * vocab, 1, 3f);
        var teacher = TeacherLogProbs(rows, vocab, mask, seed: 2);
        var (values, gradient) = (s.Zeros(rows), s.Upload(Random(rows * classes, 3)));
        s.Kernels.DivergenceForwardBackward(kind, s.Upload(Padded(student, vocab, classes)), s.Upload(Padded(teacher, vocab, classes)),
            values, gradient, rows, classes, vocab, mask, gradScale);
        double[] Reference(double[] logits) => Enumerable.Range(0, rows)
            .Select(r => ReferenceLosses.Divergence(kind, logits[(r * vocab)..((r + 1) * vocab)],
                D(teacher)[(r * vocab)..((r + 1) * vocab)], mask))
            .ToArray();
        AssertClose(Reference(D(student)), DeviceScope.Download(values), 1e-4, $"{kind} values");
        var fd = FiniteDifference(Reference, D(student), Enumerable.Repeat((double)gradScale, rows).ToArray());
        var actual = DeviceScope.Download(gradient);
        AssertClose(fd, LossConformanceTests.Vocabularies(actual, classes, vocab), 1e-3, $"{kind} gradient");
        Assert.All(LossConformanceTests.Paddings(actual, classes, vocab), g => Assert.Equal(0f, g));
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Divergence_of_a_student_equal_to_its_teacher_is_zero(string backend, Divergence kind)
    {
        using var s = new DeviceScope(backend);
        const int rows = 2, classes = 9, mask = 8;
        var logits = Random(rows * classes, 5, 4f);
        var teacher = s.Zeros(rows * classes);
        s.Kernels.SubsLogSoftmax(s.Upload(logits), teacher, rows, classes, classes, mask);
        var (values, gradient) = (s.Zeros(rows), s.Zeros(rows * classes));
        s.Kernels.DivergenceForwardBackward(kind, s.Upload(logits), teacher, values, gradient, rows, classes, classes, mask, 1f);
        Assert.All(DeviceScope.Download(values), v => Assert.InRange(v, -2e-6f, 2e-6f));
        if (kind is Divergence.ReverseKl or Divergence.ForwardKl or Divergence.LogProbMse)
            Assert.All(DeviceScope.Download(gradient), g => Assert.InRange(g, -2e-6f, 2e-6f));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Reverse_kl_matches_reference_over_the_full_padded_vocabulary(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 3, classes = 50304, vocab = 50258, mask = 50257;
        var student = Random(rows * vocab, 7, 4f);
        var teacher = TeacherLogProbs(rows, vocab, mask, seed: 8);
        var (values, gradient) = (s.Zeros(rows), s.Upload(Padded(student, vocab, classes)));
        s.Kernels.DivergenceForwardBackward(Divergence.ReverseKl, gradient, s.Upload(Padded(teacher, vocab, classes)), values, gradient,
            rows, classes, vocab, mask, 1f);
        var expected = Enumerable.Range(0, rows).Select(r => ReferenceLosses.Divergence(Divergence.ReverseKl,
            D(student)[(r * vocab)..((r + 1) * vocab)], D(teacher)[(r * vocab)..((r + 1) * vocab)], mask)).ToArray();
        AssertClose(expected, DeviceScope.Download(values), 1e-4, "reverse KL");
        // docs/algorithms.md §8.8: ∂KL/∂logits = p_s ⊙ (log p_s − log p_t − KL), MASK entry 0, padding 0.
        var g = DeviceScope.Download(gradient);
        for (int r = 0; r < rows; r++)
        {
            var ls = ReferenceLosses.SubsLogSoftmax(D(student)[(r * vocab)..((r + 1) * vocab)], mask);
            var expectedRow = ls.Select((v, i) => i == mask ? 0 : Math.Exp(v) * (v - teacher[r * vocab + i] - expected[r]))
                .Concat(new double[classes - vocab]).ToArray();
            AssertClose(expectedRow, g[(r * classes)..((r + 1) * classes)], 1e-3, $"gradient row {r}");
        }
    }

    /// <summary>Rows of <paramref name="vocab"/> entries widened to <paramref name="classes"/> with NaN, which kernels skip.</summary>
    private static float[] Padded(float[] x, int vocab, int classes) =>
        Enumerable.Range(0, x.Length / vocab).SelectMany(r => x[(r * vocab)..((r + 1) * vocab)].Concat(
            Enumerable.Repeat(float.NaN, classes - vocab))).ToArray();

    private static float[] TeacherLogProbs(int rows, int classes, int mask, int seed) =>
        Enumerable.Range(0, rows)
            .SelectMany(r => ReferenceLosses.SubsLogSoftmax(D(Random(classes, seed + 100 * r, 3f)), mask).Select(v => (float)v))
            .ToArray();
}
