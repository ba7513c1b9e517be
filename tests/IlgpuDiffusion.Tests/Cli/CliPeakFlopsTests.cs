using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// <c>--peak-tflops</c> of <c>train</c> and <c>distill</c>: given, the log lines show model FLOPs utilization against it and the
/// checkpoint keeps it for a resumed run; not given, no MFU; a negative or non-finite peak is a usage error.
/// </summary>
public sealed class CliPeakFlopsTests(TinyCliRun run) : IClassFixture<TinyCliRun>, IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task A_given_peak_puts_MFU_in_the_log_and_in_the_checkpoint()
    {
        string checkpoint = _temp.File("peak.safetensors");
        CliResult train = await CliRunner.Run(["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", "2", "--batch", "2",
            "--log-interval", "1", "--validation-batches", "1", "--peak-tflops", "0.5", "--device", "cpu", "-o", checkpoint]);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Equal(2, train.OutLines.Count(line => line.Contains("| MFU ", StringComparison.Ordinal)));
        Assert.Equal(0.5e12, MdlmCheckpoint.ReadHeader(checkpoint).Training.PeakFlops);

        CliResult without = await CliRunner.Run(["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", "1", "--batch", "2",
            "--validation-batches", "1", "--device", "cpu", "-o", _temp.File("none.safetensors")]);
        Assert.True(without.ExitCode == 0, without.ToString());
        Assert.DoesNotContain("MFU", without.Out);
    }

    [Theory]
    [InlineData("train", "-1")]
    [InlineData("train", "NaN")]
    [InlineData("distill", "-0.5")]
    public void A_negative_or_non_finite_peak_is_a_usage_error(string command, string peak)
    {
        string[] args = command == "train"
            ? ["train", "--embedded", "--peak-tflops", peak]
            : ["distill", "teacher.safetensors", "--embedded", "--peak-tflops", peak];
        var errors = CliApplication.Parse(args).Errors;
        Assert.Contains(errors, error => error.Message.Contains("--peak-tflops must be a finite number ≥ 0", StringComparison.Ordinal));
    }

    public void Dispose() => _temp.Dispose();
}
