using System.Text.Json;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// <c>distill</c> end to end on a tiny trained model: one round, a resume that lowers the minimum and runs a second
/// round, sampling from a student, and the usage and run errors.
/// </summary>
public sealed class DistillCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Distill_writes_a_student_per_round_resumes_into_further_rounds_and_the_students_sample()
    {
        string corpus = _temp.File("corpus"), shards = _temp.File("shards"), teacher = _temp.File("teacher.safetensors"),
            output = _temp.File("sdtt");
        TinyCorpus.Write(corpus);
        Assert.Equal(0, (await CliRunner.Run("prepare", corpus, "-o", shards, "--length", "32", "--validation-fraction", "0.25",
            "--seed", "3")).ExitCode);
        CliResult train = await CliRunner.Run("train", "--data", shards, "--layers", "1", "--hidden", "32", "--heads", "2",
            "--cond-dim", "16", "--steps", "4", "--batch", "4", "--lr", "1e-3", "--warmup", "2", "--validation-batches", "1",
            "--device", "cpu", "-o", teacher);
        Assert.True(train.ExitCode == 0, train.ToString());

        string[] settings = ["--data", shards, "--initial-steps", "8", "--steps-per-round", "2", "--batch", "4", "--lr", "1e-3",
            "--warmup", "1", "--log-interval", "1", "--validation-batches", "1", "--device", "cpu"];
        CliResult first = await CliRunner.Run(["distill", teacher, .. settings, "--min-steps", "4", "-o", output]);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("round 1 done: student samples in 4 steps", first.Out);
        string round1 = Path.Combine(output, "round-1-4-steps.safetensors"), latest = Path.Combine(output, "latest.safetensors");
        Assert.Equal(new DistillationState(1, 4, 2), DistillationCheckpoint.Read(round1).State);
        Assert.Equal(["distill 1", "distill 2", "round 2"], MetricKinds(Path.Combine(output, "metrics.jsonl")));

        CliResult resumed = await CliRunner.Run(["distill", "--resume", latest, .. settings, "--min-steps", "2"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"Resuming '{latest}' at step 2 (round 2 of 2)", resumed.Out);
        Assert.Contains("round 2 done: student samples in 2 steps", resumed.Out);
        var (config, state) = DistillationCheckpoint.Read(Path.Combine(output, "round-2-2-steps.safetensors"));
        Assert.Equal(new DistillationState(2, 2, 4), state);
        Assert.Equal((8, 2, 2, DistillationDivergence.ReverseKl), (config.InitialSamplingSteps, config.MinSamplingSteps,
            config.StepsPerRound, config.Divergence));
        Assert.Equal(4, MdlmCheckpoint.ReadHeader(latest).State.Step);
        Assert.Equal(["distill 1", "distill 2", "round 2", "distill 3", "distill 4", "round 4"],
            MetricKinds(Path.Combine(output, "metrics.jsonl")));

        CliResult sampled = await CliRunner.Run("sample", Path.Combine(output, "round-2-2-steps.safetensors"), "--steps", "2",
            "--batch", "2", "--format", "jsonl", "--device", "cpu");
        Assert.True(sampled.ExitCode == 0, sampled.ToString());
        Assert.Equal(2, sampled.OutLines.Length);
        Assert.Contains("with 2 steps, seed", sampled.Error);

        // Without --steps a student samples with the steps it was distilled for, which info shows.
        CliResult own = await CliRunner.Run("sample", round1, "--batch", "1", "--device", "cpu");
        Assert.True(own.ExitCode == 0, own.ToString());
        Assert.Contains("with 4 steps (the student's own), seed", own.Error);
        CliResult info = await CliRunner.Run("info", round1);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains("SDTT student, 1 round(s) distilled", info.Out);
        Assert.Contains("4 (sample's default)", info.Out);
        Assert.Contains("weights only: ema (for sampling and evaluation)", info.Out); // a round's student, unless --resumable
        long student = new FileInfo(round1).Length, full = new FileInfo(latest).Length;
        Assert.True(student * 4 < full, $"a {student}-byte student beside a {full}-byte resume checkpoint");

        // export writes the student's EMA weights alone as a Hugging Face folder that keeps its sampling steps.
        string exported = Path.Combine(output, "exported");
        CliResult export = await CliRunner.Run("export", round1, "-o", exported);
        Assert.True(export.ExitCode == 0, export.ToString());
        Assert.Contains("SDTT student (4 sampling steps)", export.Out);
        Assert.Equal(4, HuggingFaceConfig.ReadSamplingSteps(Path.Combine(exported, HuggingFaceConfig.FileName)));
        long weights = new FileInfo(Path.Combine(exported, HuggingFaceImport.WeightsFileName)).Length;
        Assert.True(weights * 4 < full, $"{weights} bytes of weights from a {full}-byte checkpoint");
        CliResult folderInfo = await CliRunner.Run("info", exported);
        Assert.True(folderInfo.ExitCode == 0, folderInfo.ToString());
        Assert.Contains("SDTT student", folderInfo.Out);
        Assert.Contains("4 (sample's default, ilgpu_sampling_steps)", folderInfo.Out);
        Assert.Contains("F32", folderInfo.Out);
        CliResult fromFolder = await CliRunner.Run("sample", exported, "--batch", "1", "--seed", "2", "--device", "cpu");
        Assert.True(fromFolder.ExitCode == 0, fromFolder.ToString());
        Assert.Contains("with 4 steps (the student's own), seed 2", fromFolder.Error);
        Assert.Equal((await CliRunner.Run("sample", round1, "--batch", "1", "--seed", "2", "--device", "cpu")).Out, fromFolder.Out);

        CliResult finished = await CliRunner.Run(["distill", "--resume", latest, .. settings, "--min-steps", "2"]);
        Assert.Equal(1, finished.ExitCode);
        Assert.Contains("has finished all 2 rounds", finished.Error);
    }

    [Fact]
    public async Task Bad_distill_command_lines_are_usage_errors()
    {
        CliResult neither = await CliRunner.Run("distill", "--embedded");
        Assert.Equal(2, neither.ExitCode);
        Assert.Contains("Give either a teacher", neither.Error);
        CliResult divergence = await CliRunner.Run("distill", "teacher.safetensors", "--embedded", "--divergence", "l2");
        Assert.Equal(2, divergence.ExitCode);
        Assert.Contains("'l2' not recognized", divergence.Error);
        CliResult steps = await CliRunner.Run("distill", "missing.safetensors", "--embedded", "--initial-steps", "100", "--device", "cpu");
        Assert.Equal(1, steps.ExitCode);
        Assert.Contains("power of two", steps.Error);
    }

    private static string[] MetricKinds(string path) => File.ReadAllLines(path).Select(line =>
    {
        using var json = JsonDocument.Parse(line);
        return $"{json.RootElement.GetProperty("kind").GetString()} {json.RootElement.GetProperty("step").GetInt64()}";
    }).ToArray();

    public void Dispose() => _temp.Dispose();
}
