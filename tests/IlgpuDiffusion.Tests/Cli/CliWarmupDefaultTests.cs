using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// <c>train</c>'s warm-up: a new run without --warmup warms up for at most a tenth of its steps (MDLM's 2,500 would outlast a
/// default 1,000-step run, which then never reached its learning rate), and a warm-up longer than the run is warned about.
/// </summary>
public sealed class CliWarmupDefaultTests(TinyCliRun run) : IClassFixture<TinyCliRun>, IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task A_new_run_warms_up_for_a_tenth_of_its_steps_and_a_longer_warm_up_is_warned_about()
    {
        string checkpoint = _temp.File("short.safetensors");
        CliResult train = await CliRunner.Run(["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", "20", "--batch", "2",
            "--validation-batches", "1", "--device", "cpu", "-o", checkpoint]);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Equal(2, MdlmCheckpoint.ReadHeader(checkpoint).Training.WarmupSteps);
        Assert.DoesNotContain("warning", train.Error);

        CliResult longer = await CliRunner.Run(["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", "2", "--warmup", "5",
            "--batch", "2", "--validation-batches", "1", "--device", "cpu", "-o", _temp.File("long.safetensors")]);
        Assert.True(longer.ExitCode == 0, longer.ToString());
        Assert.Contains("warning: the warm-up of 5 steps is longer than the run's 2", longer.Error);
    }

    public void Dispose() => _temp.Dispose();
}
