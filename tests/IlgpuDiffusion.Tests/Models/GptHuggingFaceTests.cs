using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>GPT-2 checkpoint import and export on synthetic files with the exact names, layouts and shapes of the HF format.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptHuggingFaceTests
{
    /// <summary>The config.json of openai-community/gpt2, shrunk to the tiny sizes.</summary>
    private static string Gpt2ConfigJson(GptConfig c) => $$"""
        {
          "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
          "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
          "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": {{c.Length}}, "n_embd": {{c.Hidden}},
          "n_head": {{c.Heads}}, "n_layer": {{c.Layers}}, "n_positions": {{c.Length}}, "resid_pdrop": 0.1,
          "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
          "summary_type": "cls_index", "summary_use_proj": true, "vocab_size": {{c.Vocab}}
        }
        """;

    [Theory]
    [InlineData("")]
    [InlineData("transformer.")]
    public void Imported_gpt2_gives_the_reference_logits(string prefix)
    {
        var config = TinyModels.RandomGpt() with { Dropout = 0.1f };
        var weights = TinyModels.HfWeights(config, seed: 41);
        using var folder = new TempDirectory();
        File.WriteAllText(Path.Combine(folder.Path, "config.json"), Gpt2ConfigJson(config));
        var writer = new SafetensorsWriter();
        foreach (var (name, shape) in GptParameters.Layout(config))
        {
            writer.Add(prefix + name, weights[name], GptHuggingFace.HfShape(name, shape));
            if (name.EndsWith("ln_1.bias", StringComparison.Ordinal)) // the causal-mask buffers of older checkpoints
            {
                string block = name[..^"ln_1.bias".Length];
                writer.Add(prefix + block + "attn.bias", new float[config.Length * config.Length], 1, 1, config.Length, config.Length);
                writer.Add(prefix + block + "attn.masked_bias", new float[] { -1e4f });
            }
        }
        writer.Add("lm_head.weight", weights["wte.weight"], config.Vocab, config.Hidden); // stored tied head
        writer.Write(Path.Combine(folder.Path, GptHuggingFace.WeightsFileName));

        var device = TinyModels.Cpu;
        using var model = GptHuggingFace.Load(folder.Path, device);
        Assert.Equal(config, model.Config);
        var ids = TinyModels.Ids(config, TinyModels.Batch * TinyModels.GptTokens, seed: 42);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.GptTokens, training: false);
        var logits = TinyModels.Unpadded(model.Forward(activations, TinyModels.Upload(device, ids), GptDropout.Off).ToArray(), config);
        Numerics.AssertClose(ReferenceGpt.Logits(config, weights, ids, TinyModels.Batch, TinyModels.GptTokens), logits, 1e-4, "logits");
    }

    [Theory]
    [InlineData(GptPositions.Learned, true)]
    [InlineData(GptPositions.Rotary, false)]
    public void Export_writes_the_hf_layout_and_imports_back_exactly(GptPositions positions, bool tied)
    {
        var config = TinyModels.RandomGpt(positions, tied);
        var weights = TinyModels.HfWeights(config, seed: 43);
        var device = TinyModels.Cpu;
        using var model = new Gpt(config, device, withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, weights);
        using var folder = new TempDirectory();
        GptHuggingFace.Save(model.Parameters, folder.Path);

        using (var reader = SafetensorsReader.Open(Path.Combine(folder.Path, GptHuggingFace.WeightsFileName)))
        {
            Assert.Equal(GptParameters.Layout(config).Select(e => e.Name).Order(), reader.Tensors.Select(t => t.Name).Order());
            Assert.Equal([16L, 48L], reader.GetInfo("h.0.attn.c_attn.weight").Shape);
            Assert.Equal([64L, 16L], reader.GetInfo("h.1.mlp.c_proj.weight").Shape);
            Assert.Equal(weights["h.1.mlp.c_fc.weight"], reader.ReadFloats("h.1.mlp.c_fc.weight"));
            Assert.Equal(weights["wte.weight"], reader.ReadFloats("wte.weight"));
        }
        using var loaded = GptHuggingFace.Load(folder.Path, device);
        Assert.Equal(config, loaded.Config);
        Assert.Equal(model.Parameters.All.ToArray(), loaded.Parameters.All.ToArray());
    }

    [Fact]
    public void Mismatched_files_are_refused_naming_the_tensor_or_setting()
    {
        var config = TinyModels.RandomGpt();
        var weights = TinyModels.HfWeights(config, seed: 44);
        var device = TinyModels.Cpu;
        using var folder = new TempDirectory();
        string Write(Func<string, float[], long[], (string, float[], long[])?> edit, string? extraName = null)
        {
            File.WriteAllText(Path.Combine(folder.Path, "config.json"), Gpt2ConfigJson(config));
            var writer = new SafetensorsWriter();
            foreach (var (name, shape) in GptParameters.Layout(config))
                if (edit(name, weights[name], GptHuggingFace.HfShape(name, shape)) is (string n, float[] data, long[] dims))
                    writer.Add(n, data, dims);
            if (extraName is not null) writer.Add(extraName, new float[] { 1f }, 1);
            writer.Write(Path.Combine(folder.Path, GptHuggingFace.WeightsFileName));
            return Assert.ThrowsAny<InvalidDataException>(() => GptHuggingFace.Load(folder.Path, device).Dispose()).Message;
        }

        Assert.Contains("h.0.attn.c_attn.weight", Write((n, d, s) => (n, d, n == "h.0.attn.c_attn.weight" ? [s[1], s[0]] : s)));
        Assert.Contains("h.1.mystery", Write((n, d, s) => (n, d, s), extraName: "h.1.mystery"));
        Assert.Contains("ln_f.bias", Write((n, d, s) => n == "ln_f.bias" ? null : (n, d, s)));
        Assert.Contains("tie_word_embeddings", TiedHeadMismatch(folder.Path, config, weights, device));
        File.WriteAllText(Path.Combine(folder.Path, "config.json"),
            Gpt2ConfigJson(config).Replace("gelu_new", "relu", StringComparison.Ordinal));
        Assert.Contains("activation_function",
            Assert.Throws<InvalidDataException>(() => GptHuggingFace.Load(folder.Path, device).Dispose()).Message);
    }

    /// <summary>A file storing an lm_head.weight unlike wte while config.json ties them.</summary>
    private static string TiedHeadMismatch(string folder, GptConfig config, Dictionary<string, float[]> weights,
        IlgpuDiffusion.Compute.Device device)
    {
        var writer = new SafetensorsWriter();
        foreach (var (name, shape) in GptParameters.Layout(config)) writer.Add(name, weights[name], GptHuggingFace.HfShape(name, shape));
        writer.Add("lm_head.weight", new float[config.Vocab * config.Hidden], config.Vocab, config.Hidden);
        writer.Write(Path.Combine(folder, GptHuggingFace.WeightsFileName));
        return Assert.Throws<InvalidDataException>(() => GptHuggingFace.Load(folder, device).Dispose()).Message;
    }
}
