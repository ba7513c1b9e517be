using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// <c>train</c>'s periodic checkpoints: step-numbered files beside the output, the newest <c>--keep-checkpoints</c> kept, and
/// <c>--resume latest</c> (or a folder) continuing from the last one written.
/// </summary>
public sealed class CheckpointKeepingTests(TinyCliRun run) : IClassFixture<TinyCliRun>, IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Train_keeps_the_newest_step_numbered_checkpoints_and_resume_latest_continues_from_the_last_written()
    {
        string checkpoint = _temp.File("run.safetensors");
        string Numbered(int step) => _temp.File($"run.step-{step:D6}.safetensors");
        string[] train = ["train", "--data", run.Shards, "--batch", "4", "--validation-interval", "100000", "--device", "cpu"];
        CliResult first = await CliRunner.Run([.. train, .. TinyCliRun.Model, "--steps", "4", "--checkpoint-interval", "1",
            "--keep-checkpoints", "2", "-o", checkpoint]);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal([false, false, true, true], Enumerable.Range(1, 4).Select(s => File.Exists(Numbered(s))));
        Assert.Equal(4, MdlmCheckpoint.ReadHeader(checkpoint).State.Step);

        // With the end's checkpoint gone (as after a crash before its end), latest is the newest step-numbered checkpoint left.
        File.Delete(Numbered(4));
        CliResult resumed = await CliRunner.Run([.. train, "--steps", "5", "--resume", "latest", "-o", checkpoint]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"Resuming '{Numbered(3)}' at step 3.", resumed.Out);
        Assert.Equal(5, MdlmCheckpoint.ReadHeader(checkpoint).State.Step);

        // A folder stands for latest in it; a step-numbered --resume file writes the run it belongs to.
        CliResult again = await CliRunner.Run([.. train, "--steps", "6", "--resume", Numbered(3)]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(6, MdlmCheckpoint.ReadHeader(checkpoint).State.Step);
        CliResult folder = await CliRunner.Run([.. train, "--steps", "7", "--resume", Path.GetDirectoryName(checkpoint)!,
            "-o", checkpoint]);
        Assert.True(folder.ExitCode == 0, folder.ToString());
        Assert.Contains($"Resuming '{Numbered(6)}' at step 6.", folder.Out); // the end's full state; the run file holds weights only
    }

    [Fact]
    public async Task The_output_of_train_holds_weights_only_unless_resumable_and_resuming_it_names_the_checkpoint_to_resume()
    {
        string checkpoint = _temp.File("weights.safetensors"), numbered = _temp.File("weights.step-000002.safetensors");
        string[] train = ["train", "--data", run.Shards, .. TinyCliRun.Model, "--batch", "4", "--validation-batches", "1",
            "--device", "cpu"];
        CliResult trained = await CliRunner.Run([.. train, "--steps", "2", "-o", checkpoint]);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        long weightsOnly = new FileInfo(checkpoint).Length, full = new FileInfo(numbered).Length;
        Assert.True(weightsOnly * 3 < full, $"{weightsOnly} bytes of weights beside a {full}-byte resume checkpoint");
        CliResult info = await CliRunner.Run("info", checkpoint);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains("weights only: ema (for sampling and evaluation)", info.Out);
        CliResult sampled = await CliRunner.Run("sample", checkpoint, "--steps", "2", "--batch", "1", "--device", "cpu");
        Assert.True(sampled.ExitCode == 0, sampled.ToString());
        CliResult exported = await CliRunner.Run("export", checkpoint, "-o", _temp.File("hf"));
        Assert.True(exported.ExitCode == 0, exported.ToString());
        CliResult raw = await CliRunner.Run("export", checkpoint, "-o", _temp.File("raw"), "--raw-weights");
        Assert.Contains("holds the EMA weights only, not the raw ones", Assert.Single(raw.ErrorLines));

        CliResult resumed = await CliRunner.Run(["train", "--data", run.Shards, "--resume", checkpoint, "--steps", "3", "--device", "cpu"]);
        Assert.Equal(CliApplication.Failure, resumed.ExitCode);
        Assert.Contains($"'{checkpoint}' holds weights only (the EMA weights for sampling and evaluation, no optimizer state); " +
            $"resume from '{numbered}'", Assert.Single(resumed.ErrorLines));

        CliResult resumable = await CliRunner.Run([.. train, "--steps", "1", "--resumable", "-o", checkpoint]);
        Assert.True(resumable.ExitCode == 0, resumable.ToString());
        Assert.Contains("resumable: model (raw weights), ema (for sampling), adam_m, adam_v",
            (await CliRunner.Run("info", checkpoint)).Out);
    }

    [Fact]
    public async Task Resume_latest_without_any_checkpoint_is_one_error_line_naming_the_file()
    {
        string checkpoint = _temp.File("none.safetensors");
        CliResult result = await CliRunner.Run("train", "--data", run.Shards, "--resume", "latest", "-o", checkpoint, "--device", "cpu");
        Assert.Equal(CliApplication.UsageError, result.ExitCode);
        string line = Assert.Single(result.ErrorLines);
        Assert.Contains($"--resume latest: No resume checkpoint found: neither '{checkpoint}' nor a step-numbered one", line);
    }

    public void Dispose() => _temp.Dispose();
}
