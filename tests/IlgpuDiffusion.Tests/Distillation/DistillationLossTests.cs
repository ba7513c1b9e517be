using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Distillation;

[Collection(ConformanceCollection.Name)]
public sealed class DistillationLossTests
{
    private const int Rows = 5, Classes = 11, Mask = Classes - 1;
    private static readonly HeadLayout Head = new(Classes, Classes);

    public static TheoryData<DistillationDivergence, bool> Divergences()
    {
        var data = new TheoryData<DistillationDivergence, bool>();
        foreach (var kind in Enum.GetValues<DistillationDivergence>())
        {
            data.Add(kind, false);
            if (kind == DistillationDivergence.Tvd) data.Add(kind, true);
        }
        return data;
    }

    [Fact]
    public void Compatibility_switches_tvd_to_the_released_codes_l1_on_log_probs_and_nothing_else()
    {
        Assert.Equal(Divergence.TotalVariation, DistillationDivergence.Tvd.Kernel(false));
        Assert.Equal(Divergence.LogProbL1, DistillationDivergence.Tvd.Kernel(true));
        foreach (bool compat in new[] { false, true })
        {
            Assert.Equal(Divergence.ReverseKl, DistillationDivergence.ReverseKl.Kernel(compat));
            Assert.Equal(Divergence.ForwardKl, DistillationDivergence.ForwardKl.Kernel(compat));
            Assert.Equal(Divergence.LogProbMse, DistillationDivergence.Mse.Kernel(compat));
        }
    }

    [Theory]
    [MemberData(nameof(Divergences))]
    public void The_loss_sums_the_rows_divergences_and_its_gradient_matches_finite_differences(
        DistillationDivergence kind, bool compat)
    {
        Divergence divergence = kind.Kernel(compat);
        using var s = new DeviceScope("cpu");
        float[] student = Random(Rows * Classes, 1, 3f);
        float[] teacher = Enumerable.Range(0, Rows)
            .SelectMany(r => ReferenceLosses.SubsLogSoftmax(D(Random(Classes, 10 + r, 3f)), Mask).Select(v => (float)v)).ToArray();
        var loss = new DistillationLoss(maxRows: 8, Head);
        var gradient = s.Zeros(Rows * Classes);
        const float gradScale = 0.5f; // e.g. two accumulated micro-batches
        double value = Sum(s, loss, divergence, s.Upload(student), s.Upload(teacher), gradient, Rows, gradScale / Rows) / Rows;

        double[] Mean(double[] logits) =>
        [
            Enumerable.Range(0, Rows).Average(r => ReferenceLosses.Divergence(divergence,
                logits[(r * Classes)..((r + 1) * Classes)], D(teacher)[(r * Classes)..((r + 1) * Classes)], Mask)),
        ];
        Assert.Equal(Mean(D(student))[0], value, 5);
        AssertClose(FiniteDifference(Mean, D(student), [gradScale]), DeviceScope.Download(gradient), 1e-3, $"{divergence} gradient");
    }

    [Theory]
    [MemberData(nameof(Divergences))]
    public void A_student_equal_to_its_teacher_has_zero_loss(DistillationDivergence kind, bool compat)
    {
        using var s = new DeviceScope("cpu");
        float[] logits = Random(Rows * Classes, 4, 4f);
        var teacher = s.Zeros(Rows * Classes);
        s.Kernels.SubsLogSoftmax(s.Upload(logits), teacher, Rows, Classes, Classes, Mask);
        var loss = new DistillationLoss(Rows, Head);
        Assert.InRange(Sum(s, loss, kind.Kernel(compat), s.Upload(logits), teacher, null, Rows, 1f), -1e-6, 1e-6);
    }

    [Fact]
    public void No_masked_rows_give_zero_and_too_many_are_refused()
    {
        using var s = new DeviceScope("cpu");
        var loss = new DistillationLoss(maxRows: 2, Head);
        var empty = s.Zeros(Classes);
        Assert.Equal(0, Sum(s, loss, Divergence.ReverseKl, empty, empty, null, 0, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sum(s, loss, Divergence.ReverseKl, empty, empty, null, 3, 1f));
    }

    /// <summary>The rows' divergences queued into a tensor of their own, then summed in double on the host.</summary>
    private static double Sum(DeviceScope s, DistillationLoss loss, Divergence divergence, Tensor<float> student, Tensor<float> teacher,
        Tensor<float>? gradient, int rows, float rowGradientScale)
    {
        var values = s.Zeros(Math.Max(1, rows));
        loss.Queue(divergence, student, teacher, gradient, rows, rowGradientScale, values.Slice(0, rows));
        return DeviceScope.Download(values).Take(rows).Sum(v => (double)v);
    }
}
