using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Cli.Demo;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>The demo's presets, stage markers, metrics reading and the verdicts against the paper's claims, on hand-made inputs.</summary>
public sealed class DemoReportTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public void The_default_preset_distills_128_steps_down_to_8_in_four_rounds_and_evaluates_every_count()
    {
        DemoPreset preset = DemoPreset.Default;
        Assert.Equal([8, 16, 32, 64, 128], preset.EvaluatedSteps);
        Assert.Equal([64, 32, 16, 8], DistillationStage.Students(preset, seed: 1, new DemoLayout(_temp.Path)).Select(s => s.SamplingSteps));
        Assert.Equal(preset.Model.Length + 1, preset.Judge.Length);
        Assert.Equal(preset.Model.Hidden, preset.Judge.Hidden);
        Assert.Same(DemoPreset.Paper, DemoPreset.Named("paper"));
    }

    [Fact]
    public void Every_preset_validates_and_the_cpu_and_gpu_main_jobs_train_a_qk_normed_teacher_over_bytes()
    {
        foreach (DemoPreset preset in DemoPreset.All) Assert.Same(preset, preset.Validate());
        foreach (DemoPreset preset in new[] { DemoPreset.Default, DemoPreset.Gpu })
        {
            Assert.True(preset.Teacher.QkNorm, preset.Name);
            Assert.Equal("bytes", preset.Teacher.Tokenizer);
            Assert.Equal([8, 16, 32, 64, 128], preset.EvaluatedSteps);
        }
        Assert.Same(DemoPreset.Gpu, DemoPreset.Named("gpu"));
        Assert.True(DemoPreset.Gpu.Teacher.ParameterCount() > 4 * DemoPreset.Default.Teacher.ParameterCount());
        Assert.False(DemoPreset.Paper.Teacher.QkNorm);
        Assert.Equal((1024, "gpt2"), (DemoPreset.Paper.Teacher.Length, DemoPreset.Paper.Teacher.Tokenizer));
    }

    [Theory]
    [InlineData("samples", "at least 2 samples")]
    [InlineData("rate", "learning rates must be positive")]
    [InlineData("halving", "must halve down to 8")]
    [InlineData("warmup", "warm-up cannot be negative")]
    [InlineData("cloze", "cloze passages must be at least 1")]
    [InlineData("heads", "Heads")]
    public void A_preset_that_cannot_run_is_refused_with_what_is_wrong(string fault, string message)
    {
        DemoPreset preset = fault switch
        {
            "samples" => DemoPreset.Default with { Samples = 1 },
            "rate" => DemoPreset.Default with { LearningRate = double.NaN },
            "halving" => DemoPreset.Default with { InitialSamplingSteps = 96 },
            "warmup" => DemoPreset.Default with { WarmupSteps = -1 },
            "cloze" => DemoPreset.Default with { ClozePassages = 0 },
            _ => DemoPreset.Default with { Model = DemoPreset.Default.Model with { Heads = 3 } },
        };
        Assert.Contains(message, Assert.Throws<ArgumentException>(preset.Validate).Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_experiment_preset_runs_four_rounds_after_a_cosine_decayed_teacher()
    {
        DemoPreset preset = DemoPreset.Named("experiment");
        Assert.Equal([8, 16, 32, 64, 128], preset.EvaluatedSteps);
        Assert.Equal([64, 32, 16, 8], DistillationStage.Students(preset, seed: 1, new DemoLayout(_temp.Path)).Select(s => s.SamplingSteps));
        Assert.Equal(LrDecay.Cosine, preset.TeacherTraining(seed: 1).Decay);
        Assert.Equal(LrDecay.Constant, DemoPreset.Default.TeacherTraining(seed: 1).Decay);
    }

    [Fact]
    public void Budget_options_replace_the_presets_steps_and_are_named_in_the_report_command()
    {
        DemoPreset preset = DemoPreset.Default.WithBudgets(teacherSteps: 3000, judgeSteps: null, stepsPerRound: 250);
        Assert.Equal((3000, DemoPreset.Default.JudgeSteps, 250), (preset.TeacherSteps, preset.JudgeSteps, preset.StepsPerRound));
        Assert.Equal(3000, preset.TeacherTraining(seed: 1).MaxSteps);
        Assert.Equal(" --teacher-steps 3000 --steps-per-round 250", preset.Overrides);
        Assert.Same(DemoPreset.Default, DemoPreset.Default.WithBudgets(null, null, null));
        Assert.Contains("--judge-steps", Assert.Throws<ArgumentException>(() => DemoPreset.Default.WithBudgets(null, 0, null)).Message);
    }

    [Fact]
    public void The_tokenizer_option_sets_the_vocabulary_of_the_teacher_and_the_judge_and_is_named_in_the_report_command()
    {
        Assert.Equal(("gpt2", DemoPreset.Paper.Model), (DemoPreset.Paper.Tokenizer, DemoPreset.Paper.Teacher));
        DemoPreset main = DemoPreset.Default;
        Assert.Equal(("bytes", 258, 258), (main.Teacher.Tokenizer, main.Teacher.Vocab, main.Judge.Vocab));
        DemoPreset bytes = DemoPreset.Tiny.WithTokenizer("bytes");
        Assert.Equal(("bytes", 258), (bytes.Teacher.Tokenizer, bytes.Teacher.Vocab));
        Assert.Equal(("bytes", 258), (bytes.Judge.Tokenizer, bytes.Judge.Vocab));
        Assert.Equal(DemoPreset.Tiny.Model.Hidden, bytes.Teacher.Hidden);
        Assert.Equal(" --tokenizer bytes", bytes.Overrides);
        Assert.Same(DemoPreset.Tiny, DemoPreset.Tiny.WithTokenizer("gpt2"));
        Assert.Same(DemoPreset.Tiny, DemoPreset.Tiny.WithTokenizer(null));
        Assert.Contains("Unknown tokenizer 'chars'",
            Assert.Throws<ArgumentException>(() => DemoPreset.Tiny.WithTokenizer("chars")).Message);
        Assert.NotEqual(StageMarkers.Settings(DemoPreset.Tiny, data: null, seed: 1), StageMarkers.Settings(bytes, data: null, seed: 1));
    }

    [Fact]
    public void A_marker_counts_only_for_the_settings_it_was_written_under_and_clearing_removes_later_stages()
    {
        var layout = new DemoLayout(_temp.Path);
        var markers = new StageMarkers(layout, StageMarkers.Settings(DemoPreset.Tiny, data: null, seed: 1));
        markers.Write(DemoStage.Data, 1.5, "corpus");
        markers.Write(DemoStage.Teacher, 2.5);
        Assert.Equal("corpus", markers.Finished(DemoStage.Data)?.Detail);
        Assert.Null(new StageMarkers(layout, StageMarkers.Settings(DemoPreset.Tiny, data: null, seed: 2)).Finished(DemoStage.Data));
        Assert.Null(new StageMarkers(layout, StageMarkers.Settings(DemoPreset.Tiny with { TeacherSteps = 7 }, data: null, seed: 1))
            .Finished(DemoStage.Data));
        markers.ClearFrom(DemoStage.Teacher);
        Assert.NotNull(markers.Finished(DemoStage.Data));
        Assert.Null(markers.Finished(DemoStage.Teacher));
    }

    [Fact]
    public void Metrics_series_read_one_field_of_one_kind_and_leave_out_non_finite_values()
    {
        string path = _temp.Write("m.jsonl", """
            {"kind":"train","step":2,"loss":5.5}
            {"kind":"validation","step":2,"nelbo":6.0}
            {"kind":"train","step":4,"loss":4.5}
            {"kind":"train","step":6,"loss":"NaN"}
            {"kind":"train","step":8,"loss":"Infinity"}
            """);
        MetricsSeries series = MetricsSeries.Read(path, "train", "loss");
        Assert.Equal([2.0, 4.0], series.Steps);
        Assert.Equal([5.5, 4.5], series.Values);
        Assert.True(MetricsSeries.Read(_temp.File("missing.jsonl"), "train", "loss").IsEmpty);
        Assert.Throws<InvalidDataException>(() => MetricsSeries.Read(_temp.Write("bad.jsonl", "{\"step\":1}"), "train", "loss"));
    }

    [Fact]
    public void The_claims_section_computes_each_verdict_from_the_numbers()
    {
        const string teacher = DistillationStage.TeacherName, good = "SDTT round 1 (16 steps)", bad = "SDTT round 2 (8 steps)";
        EvaluationRow Row(string model, int steps, double genPpl) =>
            EvaluationRow.For(model, steps).With(DemoResults.GenPplSdtt, genPpl).With(EvaluationRow.EntropyName, 5.0);
        var rows = new List<EvaluationRow>
        {
            Row(teacher, 8, 400), Row(teacher, 16, 300), Row(teacher, 32, 200), Row(teacher, 64, 150),
            Row(good, 16, 140), Row(bad, 8, 390),
            EvaluationRow.For(teacher).With(DemoResults.ClozeAccuracy, 0.2),
            EvaluationRow.For(good).With(DemoResults.ClozeAccuracy, 0.25),
            EvaluationRow.For(bad).With(DemoResults.ClozeAccuracy, 0.1),
        };
        var latency = new LatencyReport("cpu", 10, 10, 8, 128,
        [
            new LatencyMeasurement(LatencyMeasurement.Autoregressive, null, null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2),
                128, 1024),
            new LatencyMeasurement(LatencyMeasurement.Diffusion, 16, true, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 16, 1024),
        ]);
        var results = new DemoResults(new EvaluationReport("t", rows, []), latency, [teacher, good, bad], []);

        string section = PaperClaims.Write(results);

        Assert.Contains($"| {good} | 16 | 140.0 | 300.0 | 200.0 | 150.0 | 5.00 / 5.00 | agrees: matches the teacher at 4N |", section);
        Assert.Contains($"| {bad} | 8 | 390.0 | 400.0 | 300.0 | 200.0 | 5.00 / 5.00 | disagrees: worse than the teacher at 2N |", section);
        Assert.Contains("Measured: 1 of 2 students agree with claim 1.", section);
        Assert.Contains($"- {good}: 25.0% vs the teacher's 20.0%: keeps or raises the teacher's accuracy (agrees).", section);
        Assert.Contains($"- {bad}: 10.0% vs the teacher's 20.0%: falls below the teacher (disagrees).", section);
        Assert.Contains("- 16 steps: 2.00× (diffusion faster; the paper's 8× is not reached).", section);
        Assert.Contains("- 32 steps: not timed.", section);
    }

    [Fact]
    public void The_step_gap_section_judges_the_gap_by_its_intervals_and_measures_what_each_student_wins_back()
    {
        const string teacher = DistillationStage.TeacherName, good = "SDTT round 1 (16 steps)", bad = "SDTT round 2 (8 steps)";
        EvaluationRow Row(string model, int steps, double genPpl, double halfWidth) => EvaluationRow.For(model, steps)
            .With(new EvaluationMetric(DemoResults.GenPplSdtt, genPpl) { Low = genPpl - halfWidth, High = genPpl + halfWidth });
        string low = EvaluationSuite.MaskedCrossEntropyName(EvaluationSuite.ContextTimes[0]);
        string high = EvaluationSuite.MaskedCrossEntropyName(EvaluationSuite.ContextTimes[^1]);
        var rows = new List<EvaluationRow>
        {
            Row(teacher, 8, 400, 10), Row(teacher, 16, 300, 10), Row(teacher, 32, 200, 10), Row(teacher, 64, 100, 10),
            Row(good, 16, 100, 10), Row(bad, 8, 400, 10),
            EvaluationRow.For(teacher).With(low, 1.5).With(high, 2.25),
        };
        var results = new DemoResults(new EvaluationReport("t", rows, []), Latency(), [teacher, good, bad], []);

        string section = StepGapSection.Write(results);

        Assert.Contains("seeing the context saves it 0.75 nats per token, so it reads its context.", section);
        Assert.Contains("400.0 (390.0–410.0) at 8 steps against 100.0 (90.0–110.0) at 64 steps", section);
        Assert.Contains("8 steps is 300% worse; the intervals do not overlap", section);
        Assert.Contains($"| {good} | 16 | 100.0 (90.0–110.0) | 300.0 (290.0–310.0) | 100.0 (90.0–110.0) (64) | 100% |", section);
        Assert.Contains($"| {bad} | 8 | 400.0 (390.0–410.0) | 400.0 (390.0–410.0) | 200.0 (190.0–210.0) (32) | 0% |", section);
        Assert.Contains("The students win back 0–100% of it (mean 50%); 1 of 2 match the teacher at 2N or better.", section);
        Assert.Contains("holds here only in part", section);

        EvaluationRow[] flatRows = [Row(teacher, 8, 105, 10), Row(teacher, 64, 100, 10), Row(bad, 8, 90, 10)];
        var flat = new DemoResults(new EvaluationReport("t", flatRows, []), Latency(), [teacher, bad], []);
        string flatSection = StepGapSection.Write(flat);
        Assert.Contains("the intervals overlap, so the difference is within the sampling spread", flatSection);
        Assert.Contains("there is no step-count gap for the students to close", flatSection);
    }

    private static LatencyReport Latency() => new("cpu", 10, 10, 8, 128,
    [
        new LatencyMeasurement(LatencyMeasurement.Autoregressive, null, null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2), 128, 1024),
    ]);

    public void Dispose() => _temp.Dispose();
}
