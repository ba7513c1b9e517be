using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Conformance.Reference;
using IlgpuDiffusion.Tests.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Distillation;

[Collection(ConformanceCollection.Name)]
public sealed class SdttDistillerTests
{
    private static readonly DistillationConfig NoDropout = TinyDistillation.Config with
    {
        Training = TinyDistillation.Config.Training with { Dropout = false },
    };

    /// <summary>
    /// A distillation step on an ILGPU device waits for it once, at the end, for the step's divergences and gradient norm
    /// together (4 when each chunk's divergences and the norm were read on their own, and 2 while the teacher's drawn
    /// tokens came back to the host before its next pass).
    /// </summary>
    [Fact]
    public void A_distillation_step_on_an_ilgpu_device_waits_for_it_once()
    {
        using var data = new TinyTraining();
        var device = TestBackends.Get("ilgpu-cpu");
        using var teacher = new Dit(TinyModels.TrainingDit, device, withGradients: false);
        teacher.Initialize(3);
        using var distiller = new SdttDistiller(teacher, data.Train, TinyDistillation.Config);
        distiller.TrainStep();
        long before = device.HostWaits;
        distiller.TrainStep();
        Assert.Equal(1, device.HostWaits - before);
    }

    [Fact]
    public void The_student_starts_as_an_exact_copy_of_the_teacher()
    {
        using var data = new TinyTraining();
        using var initial = TinyDistillation.Teacher();
        using var distiller = new SdttDistiller(initial, data.Train, TinyDistillation.Config);
        float[] weights = initial.Parameters.All.ToArray();
        Assert.Equal(weights, distiller.Student.Parameters.All.ToArray());
        Assert.Equal(weights, distiller.Teacher.Parameters.All.ToArray());
        Assert.Null(distiller.Teacher.Gradients);
        Assert.Equal(2, distiller.Rounds.Count);
        Assert.Equal(6, distiller.Rounds.TotalSteps);
    }

    [Theory]
    [InlineData(DistillationDivergence.ReverseKl)]
    [InlineData(DistillationDivergence.ForwardKl)]
    [InlineData(DistillationDivergence.Mse)]
    [InlineData(DistillationDivergence.Tvd)]
    public void With_one_teacher_step_and_no_dropout_the_initial_student_has_zero_loss(DistillationDivergence kind)
    {
        // K = 1: every target is the teacher's prediction on z_t itself, which the identical student reproduces.
        using var data = new TinyTraining();
        using var distiller = TinyDistillation.Distiller(data, NoDropout with { TeacherSteps = 1, Divergence = kind });
        DistillationStepResult result = distiller.TrainStep();
        Assert.True(distiller.Targets.Count > 0);
        Assert.InRange(result.Loss, -1e-6, 1e-6);
    }

    [Theory]
    [InlineData(DistillationDivergence.ReverseKl, false)]
    [InlineData(DistillationDivergence.ForwardKl, false)]
    [InlineData(DistillationDivergence.Mse, false)]
    [InlineData(DistillationDivergence.Tvd, false)]
    [InlineData(DistillationDivergence.Tvd, true)]
    public void A_step_loss_is_the_mean_divergence_of_the_students_masked_rows_to_the_teacher_targets(
        DistillationDivergence kind, bool compat)
    {
        using var data = new TinyTraining();
        using var distiller = TinyDistillation.Distiller(data, NoDropout with { Divergence = kind, CompatReleasedCode = compat });
        DistillationStepResult result = distiller.TrainStep(); // warm-up: lr 0, so the weights stay those of the step
        Assert.Equal(0, result.LearningRate);
        Assert.True(distiller.Targets.TargetsPerStep[0] > 0 && distiller.Targets.TargetsPerStep[1] > 0);

        // Direct reference: eval forwards of the student on z_t and of the teacher on the state before each row's teacher step
        // (the final state with the rows of that step and later ones masked again), SUBS and the divergence in double, mean
        // over the masked rows.
        TeacherTargets targets = distiller.Targets;
        int batch = distiller.Corrupted.BatchSize, tokens = distiller.Corrupted.SequenceLength, classes = distiller.Student.Config.Vocab;
        int[] rows = targets.HostRows.ToArray();
        double[] student = EvalLogits(distiller.Student, distiller.Corrupted.NoisyIds, batch, tokens);
        var divergences = new List<double>();
        for (int step = 0, start = 0; step < targets.TargetsPerStep.Length; start += targets.TargetsPerStep[step++])
        {
            int[] state = targets.FinalIds.ToArray();
            foreach (int row in rows[start..]) state[row] = classes - 1;
            double[] teacher = EvalLogits(distiller.Teacher, state, batch, tokens);
            foreach (int row in rows[start..(start + targets.TargetsPerStep[step])])
                divergences.Add(ReferenceLosses.Divergence(kind.Kernel(compat), student[(row * classes)..((row + 1) * classes)],
                    ReferenceLosses.SubsLogSoftmax(teacher[(row * classes)..((row + 1) * classes)], classes - 1), classes - 1));
        }
        Assert.Equal(rows.Length, divergences.Count);
        double expected = divergences.Average();
        Assert.True(expected > 1e-4, $"the look-ahead targets should differ from the student's prediction; got {expected}");
        // fp32 rows of small divergences: 1e-6 absolute (a wrong normalization would be off by a factor) plus 1e-4 relative.
        Assert.True(Math.Abs(result.Loss - expected) < 1e-6 + 1e-4 * expected, $"step loss {result.Loss}, reference {expected}");
    }

    /// <summary>The eval logits of every row of <paramref name="ids"/> (no time conditioning), padding left out, in double.</summary>
    private static double[] EvalLogits(Dit model, int[] ids, int batch, int tokens)
    {
        using var activations = model.CreateActivations(batch, tokens, training: false);
        var device = model.Device.Upload<int>(ids, new Shape(batch, tokens));
        var (vocab, width) = (model.Config.Vocab, model.Config.PaddedVocab);
        double[] logits = model.Forward(activations, device).ToArray().Where((_, i) => i % width < vocab).Select(v => (double)v).ToArray();
        device.Buffer.Dispose();
        return logits;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void At_the_end_of_a_round_the_teacher_becomes_the_student_exactly(bool fromEma)
    {
        using var data = new TinyTraining();
        using var distiller = TinyDistillation.Distiller(data, TinyDistillation.Config with { TeacherFromEma = fromEma });
        float[] initial = distiller.Teacher.Parameters.All.ToArray();
        for (int i = 0; i < 2; i++) Assert.False(distiller.TrainStep().RoundEnded);
        Assert.Equal(initial, distiller.Teacher.Parameters.All.ToArray());   // frozen within a round
        DistillationStepResult end = distiller.TrainStep();
        Assert.True(end.RoundEnded);
        Assert.Equal(0, end.Round);
        float[] source = fromEma ? distiller.Ema.Weights.ToArray() : distiller.Student.Parameters.All.ToArray();
        Assert.Equal(source, distiller.Teacher.Parameters.All.ToArray());
        Assert.NotEqual(initial, source);
        Assert.Equal(3, distiller.Optimizer.Steps);   // not reset by default
        Assert.Equal(3, distiller.Ema.Updates);
        Assert.Equal(1, distiller.TrainStep().Round);
    }

    [Fact]
    public void Optimizer_and_ema_restart_at_a_round_end_when_asked()
    {
        using var data = new TinyTraining();
        using var distiller = TinyDistillation.Distiller(data,
            TinyDistillation.Config with { ResetOptimizerEachRound = true, ResetEmaEachRound = true });
        for (int i = 0; i < 3; i++) distiller.TrainStep();
        Assert.Equal(0, distiller.Optimizer.Steps);
        Assert.All(distiller.Optimizer.FirstMoment.ToArray(), m => Assert.Equal(0f, m));
        Assert.All(distiller.Optimizer.SecondMoment.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(0, distiller.Ema.Updates);
        Assert.Equal(distiller.Student.Parameters.All.ToArray(), distiller.Ema.Weights.ToArray());
        Assert.Equal(3, distiller.Step);
    }

    [Fact]
    public void Rounds_double_the_teacher_step_and_the_run_ends_after_the_last_one()
    {
        using var data = new TinyTraining();
        using var distiller = TinyDistillation.Distiller(data);
        var results = Enumerable.Range(0, 6).Select(_ => distiller.TrainStep()).ToArray();
        Assert.Equal([0, 0, 0, 1, 1, 1], results.Select(r => r.Round));
        Assert.Equal([false, false, true, false, false, true], results.Select(r => r.RoundEnded));
        Assert.Equal((1 - 1e-5) / 16, distiller.Rounds.TeacherStepSize(0));
        Assert.Equal((1 - 1e-5) / 8, distiller.Rounds.TeacherStepSize(1));
        Assert.True(distiller.IsFinished);
        Assert.Equal(new DistillationState(2, 4, 6), distiller.DistillationState);
        Assert.Contains("finished", Assert.Throws<InvalidOperationException>(() => distiller.TrainStep()).Message);
    }

    [Fact]
    public void A_distillation_step_allocates_nothing_after_warm_up()
    {
        using var data = new TinyTraining();
        var config = TinyDistillation.Config with
        {
            StepsPerRound = 20, // the ten steps measured stay inside one round
            Training = TinyDistillation.Config.Training with { GradientAccumulationSteps = 2 },
        };
        using var distiller = TinyDistillation.Distiller(data, config);
        SteadyStateAllocation.AssertNone(() => distiller.TrainStep());
    }

    [Fact]
    public void The_student_moves_toward_its_look_ahead_targets()
    {
        using var data = new TinyTraining();
        var config = TinyDistillation.Config with
        {
            StepsPerRound = 40,
            Training = TinyDistillation.Config.Training with { LearningRate = 1e-3 },
        };
        using var distiller = TinyDistillation.Distiller(data, config);
        double[] losses = Enumerable.Range(0, 40).Select(_ => distiller.TrainStep().Loss).ToArray();
        double early = losses.Take(10).Average(), late = losses.TakeLast(10).Average();
        Assert.True(late < early, $"distillation loss went from {early:E3} (first 10 steps) to {late:E3} (last 10)");
    }
}
