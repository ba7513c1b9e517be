using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Cli.Demo;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// The demo end to end on the tiny preset (the embedded corpus at L 32, prepared once into the cache folder): every stage
/// runs, the report has every section and figure, a rerun reuses every stage, and <c>--from</c> reruns from a stage on.
/// </summary>
public sealed class DemoEndToEndTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task The_tiny_demo_writes_a_full_report_reuses_finished_stages_and_resumes_from_a_stage()
    {
        string output = _temp.File("demo");
        string[] demo = ["demo", "--preset", "tiny", "-o", output, "--device", "cpu"];
        var layout = new DemoLayout(output);

        CliResult first = await CliRunner.Run(demo);
        Assert.True(first.ExitCode == 0, first.ToString());
        foreach (DemoStage stage in DemoStages.All)
        {
            Assert.Contains($"[{(int)stage + 1}/6] {stage.Title()}: done in", first.Out);
            Assert.True(File.Exists(layout.Marker(stage)), stage.Name());
        }
        string report = File.ReadAllText(layout.Report);
        foreach (string section in DemoReport.Sections) Assert.Contains(section + "\n", report);
        foreach (string figure in DemoPlots.All)
        {
            Assert.Contains($"(figures/{figure})", report);
            string svg = File.ReadAllText(Path.Combine(layout.Figures, figure));
            Assert.True(svg.Length > 1000, figure);
            Assert.Contains("<svg", svg, StringComparison.Ordinal);
        }
        Assert.Empty(Directory.GetFiles(output, "*.tmp", SearchOption.AllDirectories));

        DemoPreset tiny = DemoPreset.Tiny;
        IReadOnlyList<DemoStudent> students = DistillationStage.Students(tiny, seed: 1, layout);
        Assert.Equal([16, 8], students.Select(s => s.SamplingSteps));
        EvaluationReport evaluation = EvaluationReport.Load(Path.Combine(output, EvaluationSuite.JsonFileName));
        var results = new DemoResults(evaluation, LatencyFile.Load(layout.Latency),
            [DistillationStage.TeacherName, .. students.Select(s => s.Name)], DemoSamples.Load(layout.Samples));
        Assert.Equal(3 * DemoSamples.PerModel, results.Samples.Count);
        Assert.Equal([(DistillationStage.TeacherName, 32), (DistillationStage.TeacherName, 8), (students[^1].Name, 8)],
            results.Samples.Select(s => (s.Model, s.Steps)).Distinct());
        Assert.All(results.Samples, sample => Assert.False(string.IsNullOrWhiteSpace(sample.Text)));
        Assert.Contains($"**{students[^1].Name} at 8 steps**", report);
        Assert.Equal(tiny.EvaluatedSteps, results.Steps);
        foreach (string model in results.DiffusionModels)
        {
            foreach (int steps in tiny.EvaluatedSteps)
                foreach (string metric in new[] { DemoResults.GenPplSdtt, DemoResults.GenPplMdlm, EvaluationRow.EntropyName })
                    Assert.True(results.Value(model, steps, metric) is double v && double.IsFinite(v) && v > 0,
                        $"{model} {steps} {metric}");
        }
        foreach (string model in results.DiffusionModels.Append(EvaluationStage.JudgeName))
        {
            Assert.True(results.Value(model, null, EvaluationSuite.ValidationName) > 1, model);
            Assert.InRange(results.Value(model, null, DemoResults.ClozeAccuracy) ?? -1, 0, 1);
        }
        Assert.Equal(tiny.EvaluatedSteps.Count + 1, results.Latency.Measurements.Count);
        Assert.All(tiny.EvaluatedSteps, steps => Assert.True(results.DiffusionSeconds(steps) > 0));

        CliResult again = await CliRunner.Run(demo);
        Assert.True(again.ExitCode == 0, again.ToString());
        foreach (DemoStage stage in DemoStages.All) Assert.Contains($"{stage.Title()}: reused", again.Out);

        DateTime teacherWritten = File.GetLastWriteTimeUtc(layout.Teacher), studentWritten = File.GetLastWriteTimeUtc(students[^1].Path);
        CliResult resumed = await CliRunner.Run([.. demo, "--from", "distill"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        foreach (DemoStage stage in new[] { DemoStage.Data, DemoStage.Teacher, DemoStage.Judge })
            Assert.Contains($"{stage.Title()}: reused", resumed.Out);
        foreach (DemoStage stage in new[] { DemoStage.Distill, DemoStage.Evaluate, DemoStage.Report })
            Assert.Contains($"{stage.Title()}: done in", resumed.Out);
        Assert.Equal(teacherWritten, File.GetLastWriteTimeUtc(layout.Teacher));
        Assert.True(File.GetLastWriteTimeUtc(students[^1].Path) > studentWritten);

        // A teacher stage that stopped early (here: a shorter budget; Ctrl+C leaves the same) is continued, not restarted.
        CliResult shorter = await CliRunner.Run([.. demo, "--teacher-steps", "2"]);
        Assert.True(shorter.ExitCode == 0, shorter.ToString());
        CliResult continued = await CliRunner.Run(demo);
        Assert.True(continued.ExitCode == 0, continued.ToString());
        Assert.Contains($"Resuming '{StepCheckpoints.PathOf(layout.Teacher, 2)}' at step 2.", continued.Out);
    }

    [Fact]
    public async Task From_a_stage_whose_earlier_stages_have_not_run_is_one_error_line()
    {
        CliResult result = await CliRunner.Run("demo", "--preset", "tiny", "-o", _temp.File("empty"), "--device", "cpu", "--from", "judge");
        Assert.True(result.ExitCode == CliApplication.Failure, result.ToString());
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: --from judge: stage 'data' has not finished", line);
    }

    [Fact]
    public async Task Data_at_another_length_than_the_preset_is_one_error_line_naming_the_length_to_prepare()
    {
        string corpus = _temp.File("corpus"), shards = _temp.File("shards");
        TinyCorpus.Write(corpus, documents: 8, words: 60);
        CliResult prepare = await CliRunner.Run("prepare", corpus, "-o", shards, "--length", "16", "--validation-fraction", "0.25");
        Assert.True(prepare.ExitCode == 0, prepare.ToString());
        CliResult result = await CliRunner.Run("demo", "--preset", "tiny", "--data", shards, "-o", _temp.File("demo"), "--device", "cpu");
        Assert.True(result.ExitCode == CliApplication.Failure, result.ToString());
        Assert.Contains("holds sequences of 16 tokens; preset tiny needs 32", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData("--preset", "huge")]
    [InlineData("--from", "sampling")]
    public async Task An_unknown_preset_or_stage_is_a_usage_error(string option, string value)
    {
        CliResult result = await CliRunner.Run("demo", option, value);
        Assert.True(result.ExitCode == CliApplication.UsageError, result.ToString());
        Assert.Contains($"'{value}'", Assert.Single(result.ErrorLines));
    }

    public void Dispose() => _temp.Dispose();
}
