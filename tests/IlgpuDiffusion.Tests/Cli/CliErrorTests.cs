using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// Mistakes a user can make: each gives one line "error: ..." on standard error, nothing on standard output, and a non-zero exit code.
/// </summary>
public sealed class CliErrorTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private static void AssertOneErrorLine(CliResult result, int exitCode, string expected)
    {
        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.Empty(result.Out);
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public async Task A_missing_checkpoint_is_one_line_and_exit_code_1()
    {
        string missing = _temp.File("missing.safetensors");
        AssertOneErrorLine(await CliRunner.Run("sample", missing, "--device", "cpu"), CliApplication.Failure, missing);
        AssertOneErrorLine(await CliRunner.Run("info", missing), CliApplication.Failure, missing);
    }

    [Fact]
    public async Task A_tensor_core_precision_on_the_cpu_is_one_line_and_exit_code_1()
    {
        AssertOneErrorLine(await CliRunner.Run("train", "--embedded", "--device", "cpu", "--precision", "bf16"),
            CliApplication.Failure, "bf16 needs a CUDA GPU of compute capability 8.0");
    }

    /// <summary>
    /// The hidden --gemm-staging (for timing the tensor-core GEMMs' two stagings on a GPU) is refused, as a usage error,
    /// wherever it would change nothing: off a CUDA device, or without tf32 or bf16 named; and it takes only its two values.
    /// </summary>
    [Theory]
    [InlineData("cpu", "bf16")]
    [InlineData("ilgpu-cpu", "tf32")]
    [InlineData("cuda", "fp32")]
    [InlineData("auto", "auto")]
    public async Task A_gemm_staging_without_tensor_cores_on_cuda_is_a_usage_error(string device, string precision)
    {
        AssertOneErrorLine(await CliRunner.Run("train", "--embedded", "--device", device, "--precision", precision,
            "--gemm-staging", "cp-async"), CliApplication.UsageError,
            "--gemm-staging applies to the TF32 and BF16 GEMMs of a CUDA GPU");
        CliResult unknown = await CliRunner.Run("train", "--embedded", "--gemm-staging", "shared");
        Assert.True(unknown.ExitCode == CliApplication.UsageError, unknown.ToString());
        Assert.Contains("registers", unknown.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_folder_without_prepared_shards_is_one_line_and_exit_code_1()
    {
        AssertOneErrorLine(await CliRunner.Run("train", "--data", _temp.Path, "--device", "cpu"), CliApplication.Failure,
            "metadata.json is missing");
    }

    [Fact]
    public async Task A_file_that_is_not_a_checkpoint_is_one_line_and_exit_code_1()
    {
        string notes = _temp.Write("notes.safetensors", "not a safetensors file");
        CliResult result = await CliRunner.Run("info", notes);
        Assert.True(result.ExitCode == CliApplication.Failure, result.ToString());
        Assert.StartsWith("error: ", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public async Task A_missing_corpus_input_is_one_line_and_exit_code_1()
    {
        AssertOneErrorLine(await CliRunner.Run("prepare", _temp.File("nowhere"), "-o", _temp.File("shards")),
            CliApplication.Failure, "nowhere");
    }

    [Theory]
    [InlineData("--steps", "0", "--steps must be at least 1; got 0.")]
    [InlineData("--lr", "abc", "'abc' for option '--lr' as a number")]
    [InlineData("--dropout", "1.5", "--dropout must be in [0, 1); got 1.5.")]
    [InlineData("--device", "gpu", "'gpu' not recognized")]
    [InlineData("--preset", "huge", "'huge' not recognized")]
    public async Task A_bad_option_value_is_a_usage_error_naming_the_option(string option, string value, string expected)
    {
        AssertOneErrorLine(await CliRunner.Run("train", "--embedded", option, value), CliApplication.UsageError, expected);
    }

    [Fact]
    public async Task Unknown_commands_and_options_and_missing_choices_are_usage_errors()
    {
        AssertOneErrorLine(await CliRunner.Run("teach"), CliApplication.UsageError, "'teach'");
        AssertOneErrorLine(await CliRunner.Run("sample", "m.safetensors", "--bogus"), CliApplication.UsageError, "--bogus");
        AssertOneErrorLine(await CliRunner.Run("train"), CliApplication.UsageError, "--data");
        AssertOneErrorLine(await CliRunner.Run("prepare", "corpus"), CliApplication.UsageError, "--output");
        AssertOneErrorLine(await CliRunner.Run("sample", "m.safetensors", "--cached", "--no-cache"), CliApplication.UsageError,
            "--no-cache");
        AssertOneErrorLine(await CliRunner.Run("sample", "m.safetensors", "--stream", "--total-length", "512"),
            CliApplication.UsageError, "--stream");
    }

    [Fact]
    public async Task Verbose_adds_the_stack_trace()
    {
        CliResult result = await CliRunner.Run("info", _temp.File("missing.safetensors"), "--verbose");
        Assert.True(result.ExitCode == CliApplication.Failure, result.ToString());
        Assert.StartsWith("error: ", result.ErrorLines[0]);
        Assert.Contains(result.ErrorLines, line => line.StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Help_lists_every_command_and_option()
    {
        CliResult root = await CliRunner.Run("--help");
        Assert.True(root.ExitCode == CliApplication.Success, root.ToString());
        Assert.Empty(root.Error);
        foreach (string command in new[] { "prepare", "train", "sample", "info", "demo" }) Assert.Contains(command, root.Out);

        CliResult train = await CliRunner.Run("train", "--help");
        foreach (string option in new[] { "--data", "--embedded", "--preset", "--layers", "--hidden", "--heads", "--length",
            "--dropout", "--steps", "--batch", "--accumulation", "--lr", "--warmup", "--validation-interval", "--validation-batches",
            "--seed", "--device", "--output", "--resume", "--metrics", "--checkpoint-interval" })
            Assert.Contains(option, train.Out);

        CliResult sample = await CliRunner.Run("sample", "--help");
        foreach (string option in new[] { "--steps", "--batch", "--length", "--seed", "--prompt", "--cached", "--no-cache", "--temperature",
            "--top-p", "--format", "--output", "--total-length", "--stride", "--stream", "--device" })
            Assert.Contains(option, sample.Out);
    }

    public void Dispose() => _temp.Dispose();
}
