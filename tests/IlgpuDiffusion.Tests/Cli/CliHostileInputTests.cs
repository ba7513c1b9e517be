using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// Files and values a hostile user can hand the tool: each gives one line "error: ..." that names the file or the setting
/// and what is wrong, never a bare .NET message such as "Arithmetic operation resulted in an overflow.".
/// </summary>
public sealed class CliHostileInputTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private static void AssertOneErrorLine(CliResult result, params string[] expected)
    {
        Assert.True(result.ExitCode == CliApplication.Failure, result.ToString());
        string line = Assert.Single(result.ErrorLines, l => l.StartsWith("error: ", StringComparison.Ordinal)); // eval reports progress too
        foreach (string part in expected) Assert.Contains(part, line);
        Assert.DoesNotContain("internal error", line);
    }

    /// <summary>
    /// A training checkpoint whose metadata holds <paramref name="model"/> and <paramref name="training"/> (not validated) and
    /// whose tensors are enough bytes for the model.
    /// </summary>
    private string Checkpoint(DitConfig model, TrainingConfig? training = null)
    {
        var writer = new SafetensorsWriter();
        var state = new TrainingState(0, 0, 0, default, 1);
        foreach (var (key, value) in CheckpointMetadata.ForTraining(MdlmCheckpointHeader.Format, MdlmCheckpointHeader.Version, model,
            training ?? TrainingConfig.Mdlm, state))
            writer.Metadata[key] = value;
        long parameters = TinyModels.CliDit.ParameterCount();
        writer.Add("model.weight", new float[parameters], parameters);
        string path = _temp.File($"{Guid.NewGuid():N}.safetensors");
        writer.Write(path);
        return path;
    }

    [Fact]
    public async Task Info_on_a_checkpoint_with_a_nan_dropout_names_the_file_and_the_setting()
    {
        string path = Checkpoint(TinyModels.CliDit with { Dropout = float.NaN });
        AssertOneErrorLine(await CliRunner.Run("info", path), path, "model_config", "Dropout must be in [0, 1); got NaN");
    }

    [Fact]
    public async Task Info_shows_a_setting_that_is_infinite()
    {
        string path = Checkpoint(TinyModels.CliDit, TrainingConfig.Mdlm with { GradientClip = double.PositiveInfinity });
        CliResult result = await CliRunner.Run("info", path);
        Assert.True(result.ExitCode == CliApplication.Success, result.ToString());
        Assert.Contains(result.OutLines, line => line.Contains("GradientClip", StringComparison.Ordinal)
            && line.Contains("Infinity", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sampling_a_checkpoint_of_length_one_billion_names_the_file_and_the_length()
    {
        string path = Checkpoint(TinyModels.CliDit with { Length = 1_000_000_000 });
        AssertOneErrorLine(await CliRunner.Run("sample", path, "--device", "cpu"), path, "Length 1000000000");
    }

    [Fact]
    public async Task A_batch_of_two_to_the_31_minus_one_names_the_batch_size()
    {
        string dit = _temp.File("dit"), judge = _temp.File("judge");
        using (var device = Device.Create("cpu"))
        {
            using var model = new Dit(TinyModels.CliDit, device, withGradients: false);
            HuggingFaceImport.Save(model.Parameters, dit);
            using var gpt = new Gpt(TinyModels.EvaluationGpt(), device, withGradients: false);
            GptHuggingFace.Save(gpt.Parameters, judge);
        }
        const string refusal = "A batch of 2147483647 sequences";
        AssertOneErrorLine(await CliRunner.Run("sample", dit, "--batch", "2147483647", "--steps", "2", "--device", "cpu"), refusal);
        AssertOneErrorLine(await CliRunner.Run("eval", dit, "--judge", judge, "--parts", "genppl", "--samples", "2", "--steps", "2",
            "--batch", "2147483647", "--device", "cpu", "-o", _temp.File("eval")), refusal);
    }

    public void Dispose() => _temp.Dispose();
}
