using System.Text;
using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// Settings are checked before the work: <c>eval</c> checks its options against the models and data before its first stage and
/// refuses a command line with nothing to evaluate; out-of-range values of <c>bench</c> and <c>demo</c> are usage errors; and
/// <c>info</c> fails on an invalid config or a truncated shard after showing what it could read.
/// </summary>
public sealed class CliEarlyValidationTests(TinyCliRun run) : IClassFixture<TinyCliRun>, IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Eval_refuses_prompts_longer_than_the_data_before_its_first_stage()
    {
        string judge = _temp.File("judge");
        using (Device device = Device.Create("cpu"))
        using (var gpt = new Gpt(TinyModels.EvaluationGpt(), device, withGradients: false))
        {
            gpt.Initialize(seed: 5);
            GptHuggingFace.Save(gpt.Parameters, judge);
        }
        CliResult result = await CliRunner.Run("eval", run.Checkpoint, "--judge", judge, "--data", run.Shards, "--prompt-length", "20",
            "--continuation-length", "20", "--steps", "2", "--samples", "2", "--validation-batches", "1", "--device", "cpu",
            "-o", _temp.File("eval"));
        Assert.True(result.ExitCode == CliApplication.Failure, result.ToString());
        Assert.Empty(result.Out);
        Assert.Contains("exceed the validation sequences of 32", Assert.Single(result.ErrorLines)); // no stage reported done
        Assert.False(Directory.Exists(_temp.File("eval")));
    }

    [Fact]
    public async Task Eval_with_nothing_to_evaluate_is_a_usage_error()
    {
        AssertUsageError(await CliRunner.Run("eval", run.Checkpoint, "--device", "cpu", "-o", _temp.File("none")), "nothing to evaluate");
        AssertUsageError(await CliRunner.Run("eval", run.Checkpoint, "--data", run.Shards, "--parts", "genppl", "--device", "cpu",
            "-o", _temp.File("genppl")), "--judge");
        AssertUsageError(await CliRunner.Run("eval", run.Checkpoint, "--data", run.Shards, "--parts", "validation", "lambada",
            "--device", "cpu", "-o", _temp.File("lambada")), "--lambada");
        Assert.False(Directory.Exists(_temp.File("none")));
    }

    [Theory]
    [InlineData("--batch", "0")]
    [InlineData("--length", "0")]
    [InlineData("--runs", "0")]
    [InlineData("--steps", "8,0")]
    public async Task Out_of_range_bench_values_are_usage_errors(string option, string value) =>
        AssertUsageError(await CliRunner.Run("bench", option, value, "--device", "cpu"), option);

    [Theory]
    [InlineData("--teacher-steps", "0")]
    [InlineData("--judge-steps", "-1")]
    [InlineData("--steps-per-round", "0")]
    public async Task Out_of_range_demo_budgets_are_usage_errors(string option, string value) =>
        AssertUsageError(await CliRunner.Run("demo", "--preset", "tiny", option, value, "--device", "cpu", "-o", _temp.File("demo")),
            option);

    [Fact]
    public async Task Info_fails_on_a_checkpoint_with_an_invalid_model_config()
    {
        string checkpoint = _temp.File("invalid.safetensors");
        byte[] bytes = File.ReadAllBytes(run.Checkpoint);
        byte[] heads = Encoding.ASCII.GetBytes("Heads\\u0022:2,"); // the model config is a JSON string inside the JSON header
        int at = bytes.AsSpan(0, 4096).IndexOf(heads);
        Assert.True(at > 0, "The checkpoint's header holds no Heads 2.");
        bytes[at + heads.Length - 2] = (byte)'3'; // 32 wide is not divisible by 3 heads
        File.WriteAllBytes(checkpoint, bytes);

        CliResult result = await CliRunner.Run("info", checkpoint);
        Assert.True(result.ExitCode == CliApplication.Failure, result.ToString());
        Assert.StartsWith("error: ", Assert.Single(result.ErrorLines));
        Assert.Contains("not divisible by Heads 3", result.Error);
    }

    [Fact]
    public async Task Info_shows_a_corpus_with_a_truncated_shard_and_fails_naming_the_shard()
    {
        string shards = _temp.File("shards");
        Directory.CreateDirectory(shards);
        foreach (string file in Directory.GetFiles(run.Shards)) File.Copy(file, Path.Combine(shards, Path.GetFileName(file)));
        string shard = Directory.GetFiles(shards, "*" + TokenShardHeader.Extension).Order().First();
        using (var stream = new FileStream(shard, FileMode.Open)) stream.SetLength(stream.Length - 10);

        CliResult result = await CliRunner.Run("info", shards);
        Assert.True(result.ExitCode == CliApplication.Failure, result.ToString());
        Assert.Contains("sequences", result.Out); // the corpus table from metadata.json
        Assert.Contains(Path.GetFileName(shard), Assert.Single(result.ErrorLines));
    }

    private static void AssertUsageError(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == CliApplication.UsageError, result.ToString());
        Assert.Empty(result.Out);
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }

    public void Dispose() => _temp.Dispose();
}
