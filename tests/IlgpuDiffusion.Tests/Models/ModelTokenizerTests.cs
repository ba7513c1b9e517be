using System.Text.Json.Nodes;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Model configs name their tokenizer: validation, the JSON of checkpoints (old ones read as GPT-2's) and the Hugging
/// Face config, which records a tokenizer other than GPT-2 under a key of its own.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class ModelTokenizerTests
{
    private static readonly DitConfig ByteDit = TinyModels.RandomDit() with { Tokenizer = "bytes", Vocab = 258 };

    private static readonly GptConfig ByteGpt = TinyModels.RandomGpt() with { Tokenizer = "bytes", Vocab = 257 };

    [Fact]
    public void Configs_are_gpt2_unless_told_and_small_test_vocabularies_stay_valid()
    {
        Assert.Equal(("gpt2", "gpt2"), (DitConfig.Small.Tokenizer, GptConfig.Gpt2.Tokenizer));
        TinyModels.RandomDit().Validate();
        TinyModels.RandomGpt().Validate();
        ByteDit.Validate();
        ByteGpt.Validate();
    }

    [Fact]
    public void An_unknown_tokenizer_or_a_vocabulary_beyond_the_tokenizers_fails_validation()
    {
        string unknown = Assert.Throws<ArgumentException>(() => (ByteDit with { Tokenizer = "chars" }).Validate()).Message;
        Assert.Contains("Unknown tokenizer 'chars'; the built-in tokenizers are gpt2, bytes", unknown);
        Assert.Contains("Unknown tokenizer 'chars'",
            Assert.Throws<ArgumentException>(() => (ByteGpt with { Tokenizer = "chars" }).Validate()).Message);
        Assert.Contains("Vocab 50258 exceeds the bytes tokenizer's model vocabulary of 258",
            Assert.Throws<ArgumentException>(() => (DitConfig.Small with { Tokenizer = "bytes" }).Validate()).Message);
        Assert.Contains("Vocab 50257 exceeds the bytes tokenizer's model vocabulary of 258",
            Assert.Throws<ArgumentException>(() => (GptConfig.Gpt2 with { Tokenizer = "bytes" }).Validate()).Message);
    }

    [Fact]
    public void A_checkpoint_header_keeps_the_tokenizer_and_an_old_one_without_it_reads_as_gpt2()
    {
        var header = new MdlmCheckpointHeader(ByteDit, TrainingConfig.Mdlm, new TrainingState(3, 3, 3, default, 7));
        Dictionary<string, string> metadata = header.ToMetadata();
        Assert.Equal("bytes", MdlmCheckpointHeader.FromMetadata("c.safetensors", metadata).Model.Tokenizer);

        var old = JsonNode.Parse(metadata[CheckpointMetadata.ModelKey])!.AsObject();
        old.Remove(nameof(DitConfig.Tokenizer));
        DitConfig read = MdlmCheckpointHeader.FromMetadata("c.safetensors",
            new Dictionary<string, string>(metadata) { [CheckpointMetadata.ModelKey] = old.ToJsonString() }).Model;
        Assert.Equal(ByteDit with { Tokenizer = "gpt2" }, read);
    }

    [Fact]
    public void A_hugging_face_config_records_a_tokenizer_other_than_gpt2_and_reads_it_back()
    {
        string bytes = HuggingFaceConfig.Format(ByteDit);
        Assert.Equal("bytes", JsonNode.Parse(bytes)![HuggingFaceConfig.TokenizerKey]!.GetValue<string>());
        Assert.Equal(ByteDit, HuggingFaceConfig.Parse(bytes));
        Assert.Null(JsonNode.Parse(HuggingFaceConfig.Format(DitConfig.Small))![HuggingFaceConfig.TokenizerKey]);
        Assert.Contains("Unknown tokenizer 'chars'", Assert.Throws<InvalidDataException>(() =>
            HuggingFaceConfig.Parse(bytes.Replace("\"bytes\"", "\"chars\"", StringComparison.Ordinal))).Message);

        JsonNode gpt = JsonNode.Parse(GptHuggingFaceConfig.Format(ByteGpt))!;
        Assert.Equal(("bytes", 256, 256), (gpt[HuggingFaceConfig.TokenizerKey]!.GetValue<string>(), gpt["bos_token_id"]!.GetValue<int>(),
            gpt["eos_token_id"]!.GetValue<int>()));
        Assert.Equal(ByteGpt, GptHuggingFaceConfig.Parse(gpt.ToJsonString()));
        JsonNode gpt2 = JsonNode.Parse(GptHuggingFaceConfig.Format(GptConfig.Gpt2))!;
        Assert.Equal((null, 50256), (gpt2[HuggingFaceConfig.TokenizerKey], gpt2["bos_token_id"]!.GetValue<int>()));
    }

    [Fact]
    public void An_exported_byte_model_imports_as_a_byte_model()
    {
        using var folder = new TempDirectory();
        using var model = new Dit(ByteDit, TinyModels.Cpu, withGradients: false);
        model.Initialize(seed: 3);
        HuggingFaceImport.Save(model.Parameters, folder.Path);
        using Dit loaded = HuggingFaceImport.Load(folder.Path, TinyModels.Cpu);
        Assert.Equal(ByteDit, loaded.Config);
        Assert.Equal(model.Parameters.All.ToArray(), loaded.Parameters.All.ToArray());
    }
}
