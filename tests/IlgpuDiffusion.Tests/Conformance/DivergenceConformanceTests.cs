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
        const int rows = 3, classes = 7, mask = 6;
        const float gradScale = 1f / rows;
        var student = Random(rows * classes, 1, 3f);
        var teacher = TeacherLogProbs(rows, classes, mask, seed: 2);
        var (values, gradient) = (s.Zeros(rows), s.Zeros(rows * classes));
        s.Kernels.DivergenceForwardBackward(kind, s.Upload(student), s.Upload(teacher), values, gradient, rows, classes, mask, gradScale);
        double[] Reference(double[] logits) => Enumerable.Range(0, rows)
            .Select(r => ReferenceLosses.Divergence(kind, logits[(r * classes)..((r + 1) * classes)],
                D(teacher)[(r * classes)..((r + 1) * classes)], mask))
            .ToArray();
        AssertClose(Reference(D(student)), DeviceScope.Download(values), 1e-4, $"{kind} values");
        var fd = FiniteDifference(Reference, D(student), Enumerable.Repeat((double)gradScale, rows).ToArray());
        AssertClose(fd, DeviceScope.Download(gradient), 1e-3, $"{kind} gradient");
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Divergence_of_a_student_equal_to_its_teacher_is_zero(string backend, Divergence kind)
    {
        using var s = new DeviceScope(backend);
        const int rows = 2, classes = 9, mask = 8;
        var logits = Random(rows * classes, 5, 4f);
        var teacher = s.Zeros(rows * classes);
        s.Kernels.SubsLogSoftmax(s.Upload(logits), teacher, rows, classes, mask);
        var (values, gradient) = (s.Zeros(rows), s.Zeros(rows * classes));
        s.Kernels.DivergenceForwardBackward(kind, s.Upload(logits), teacher, values, gradient, rows, classes, mask, 1f);
        Assert.All(DeviceScope.Download(values), v => Assert.InRange(v, -2e-6f, 2e-6f));
        if (kind is Divergence.ReverseKl or Divergence.ForwardKl or Divergence.LogProbMse)
            Assert.All(DeviceScope.Download(gradient), g => Assert.InRange(g, -2e-6f, 2e-6f));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Reverse_kl_matches_reference_over_the_full_vocabulary(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 3, classes = 50258, mask = 50257;
        var student = Random(rows * classes, 7, 4f);
        var teacher = TeacherLogProbs(rows, classes, mask, seed: 8);
        var (values, gradient) = (s.Zeros(rows), s.Upload(student));
        s.Kernels.DivergenceForwardBackward(Divergence.ReverseKl, gradient, s.Upload(teacher), values, gradient, rows, classes, mask, 1f);
        var expected = Enumerable.Range(0, rows).Select(r => ReferenceLosses.Divergence(Divergence.ReverseKl,
            D(student)[(r * classes)..((r + 1) * classes)], D(teacher)[(r * classes)..((r + 1) * classes)], mask)).ToArray();
        AssertClose(expected, DeviceScope.Download(values), 1e-4, "reverse KL");
        // docs/algorithms.md §8.8: ∂KL/∂logits = p_s ⊙ (log p_s − log p_t − KL), MASK entry 0.
        var g = DeviceScope.Download(gradient);
        for (int r = 0; r < rows; r++)
        {
            var ls = ReferenceLosses.SubsLogSoftmax(D(student)[(r * classes)..((r + 1) * classes)], mask);
            var expectedRow = ls.Select((v, i) => i == mask ? 0 : Math.Exp(v) * (v - teacher[r * classes + i] - expected[r])).ToArray();
            AssertClose(expectedRow, g[(r * classes)..((r + 1) * classes)], 1e-3, $"gradient row {r}");
        }
    }

    private static float[] TeacherLogProbs(int rows, int classes, int mask, int seed) =>
        Enumerable.Range(0, rows)
            .SelectMany(r => ReferenceLosses.SubsLogSoftmax(D(Random(classes, seed + 100 * r, 3f)), mask).Select(v => (float)v))
            .ToArray();
}
