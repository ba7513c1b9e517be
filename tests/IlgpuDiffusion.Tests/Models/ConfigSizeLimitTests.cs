using System.Diagnostics;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// A model config read from a file (checkpoint metadata, a Hugging Face <c>config.json</c>) that asks for far more layers
/// than the file's weights hold is refused before anything is built: at once, allocating little, with an error that names
/// the file and the setting.
/// </summary>
public sealed class ConfigSizeLimitTests : IDisposable
{
    private const long AllocationLimit = 32L << 20;

    private readonly TempDirectory _folder = new();
    private readonly Device _device = Device.Create("cpu");

    /// <summary>Runs <paramref name="load"/>, which must throw within seconds and allocate little; returns the message.</summary>
    private static string FailsFast(Action load)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<InvalidDataException>(load);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}: {error.Message}");
        Assert.True(allocated < AllocationLimit, $"allocated {allocated} bytes: {error.Message}");
        return error.Message;
    }

    /// <summary>A training checkpoint of <paramref name="format"/>: <paramref name="model"/> in its metadata, one small tensor.</summary>
    private string Checkpoint<TConfig>(string format, TConfig model)
    {
        var writer = new SafetensorsWriter();
        var state = new TrainingState(0, 0, 0, default, 1);
        foreach (var (key, value) in CheckpointMetadata.ForTraining(format, 1, model, TrainingConfig.Mdlm, state))
            writer.Metadata[key] = value;
        writer.Add("model.weight", new float[64], 64);
        string path = _folder.File($"{Guid.NewGuid():N}.safetensors");
        writer.Write(path);
        return path;
    }

    /// <summary>
    /// A Hugging Face folder: <paramref name="config"/> as <c>config.json</c> beside a <c>model.safetensors</c> holding only
    /// the token embedding <paramref name="embedding"/>.
    /// </summary>
    private string HuggingFaceFolder(string config, string embedding)
    {
        string folder = _folder.File(Guid.NewGuid().ToString("N"));
        _folder.Write(Path.Combine(folder, "config.json"), config);
        _folder.Write(Path.Combine(folder, "model.safetensors"),
            new RawSafetensors().Add(embedding, SafetensorsDtype.F32, new float[64], 64).ToBytes());
        return folder;
    }

    [Theory]
    [InlineData(1_000_000_000)]
    [InlineData(1_000_000)]
    [InlineData(10_000)]
    public void A_diffusion_checkpoint_with_too_many_layers_fails_fast_naming_the_file(int layers)
    {
        string path = Checkpoint(MdlmCheckpointHeader.Format, TinyModels.CliDit with { Layers = layers });
        foreach (string message in new[]
        {
            FailsFast(() => MdlmCheckpoint.LoadModel(path, _device).Dispose()),
            FailsFast(() => MdlmCheckpoint.ReadHeader(path)),
        })
        {
            Assert.Contains(path, message);
            Assert.Contains("model_config", message);
            Assert.Contains($"Layers {layers}", message);
        }
    }

    [Theory]
    [InlineData(1_000_000_000)]
    [InlineData(1_000_000)]
    [InlineData(10_000)]
    public void A_gpt_checkpoint_with_too_many_layers_fails_fast_naming_the_file(int layers)
    {
        string path = Checkpoint(GptCheckpointHeader.Format, TinyModels.EvaluationGpt() with { Layers = layers });
        string message = FailsFast(() => GptCheckpoint.LoadModel(path, _device).Dispose());
        Assert.Contains(path, message);
        Assert.Contains($"Layers {layers}", message);
    }

    [Theory]
    [InlineData(1_000_000_000)]
    [InlineData(1_000_000)]
    [InlineData(10_000)]
    public void A_hugging_face_config_with_too_many_blocks_fails_fast_naming_the_file(int layers)
    {
        string dit = HuggingFaceFolder($$"""{"hidden_dim": 32, "cond_dim": 16, "n_blocks": {{layers}}, "n_heads": 2}""",
            "backbone.vocab_embed.embedding");
        string message = FailsFast(() => HuggingFaceImport.Load(dit, _device).Dispose());
        Assert.Contains(Path.Combine(dit, "config.json"), message);
        Assert.Contains($" {layers}", message);

        string gpt = HuggingFaceFolder($$"""{"n_embd": 32, "n_head": 2, "n_layer": {{layers}}}""", "wte.weight");
        message = FailsFast(() => GptHuggingFace.Load(gpt, _device).Dispose());
        Assert.Contains(Path.Combine(gpt, "config.json"), message);
        Assert.Contains($" {layers}", message);
    }

    [Fact]
    public void A_checkpoint_config_the_model_refuses_is_an_error_naming_the_file_and_entry()
    {
        string nan = Checkpoint(MdlmCheckpointHeader.Format, TinyModels.CliDit with { Dropout = float.NaN });
        string message = FailsFast(() => MdlmCheckpoint.ReadHeader(nan));
        Assert.Contains(nan, message);
        Assert.Contains("model_config", message);
        Assert.Contains("Dropout must be in [0, 1); got NaN", message);

        string longer = Checkpoint(MdlmCheckpointHeader.Format, TinyModels.CliDit with { Length = 1_000_000_000 });
        message = FailsFast(() => MdlmCheckpoint.LoadModel(longer, _device).Dispose());
        Assert.Contains(longer, message);
        Assert.Contains("Length 1000000000", message);
    }

    [Fact]
    public void Configs_count_parameters_in_64_bits_and_refuse_more_than_an_arena_holds()
    {
        Assert.Contains("Layers 1000000000",
            Assert.Throws<ArgumentException>(() => (DitConfig.Small with { Layers = 1_000_000_000 }).Validate()).Message);
        Assert.Contains("Layers 2147483647",
            Assert.Throws<ArgumentException>(() => (GptConfig.Gpt2 with { Layers = int.MaxValue }).Validate()).Message);
        Assert.Contains("Length 1000000000",
            Assert.Throws<ArgumentException>(() => (GptConfig.Gpt2 with { Length = 1_000_000_000 }).Validate()).Message);
    }

    public void Dispose()
    {
        _device.Dispose();
        _folder.Dispose();
    }
}
