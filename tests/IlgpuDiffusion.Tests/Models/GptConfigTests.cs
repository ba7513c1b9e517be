using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>Presets, validation, the HF config mapping and the GPT-2 initialization.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptConfigTests
{
    [Fact]
    public void Presets_have_the_published_gpt2_parameter_counts()
    {
        Assert.Equal(124_439_808, GptConfig.Gpt2.ParameterCount());
        Assert.Equal(354_823_168, GptConfig.Gpt2Medium.ParameterCount());
        Assert.Equal(774_030_080, GptConfig.Gpt2Large.ParameterCount());
        foreach (var config in
            new[] { GptConfig.Tiny, GptConfig.Tiny with { Positions = GptPositions.Rotary, TiedHead = false, Vocab = 50258 } })
            Assert.Equal(config.ParameterCount(), GptParameters.Layout(config).Sum(e => e.Shape.Length));
    }

    [Fact]
    public void Invalid_configs_name_the_field()
    {
        Assert.Contains("Heads", Assert.Throws<ArgumentException>(() => (GptConfig.Tiny with { Heads = 3 }).Validate()).Message);
        var rotaryOddHead = GptConfig.Tiny with { Hidden = 12, Heads = 4, Positions = GptPositions.Rotary };
        Assert.Contains("odd", Assert.Throws<ArgumentException>(() => rotaryOddHead.Validate()).Message);
        Assert.Contains("Dropout", Assert.Throws<ArgumentException>(() => (GptConfig.Tiny with { Dropout = 1f }).Validate()).Message);
        (GptConfig.Tiny with { Hidden = 12, Heads = 4 }).Validate(); // odd head size is fine with learned positions
    }

    [Fact]
    public void The_openai_gpt2_config_maps_to_the_preset_and_formats_back()
    {
        const string json = """
            {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "bos_token_id": 50256,
             "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
             "n_ctx": 1024, "n_embd": 1280, "n_head": 20, "n_layer": 36, "n_positions": 1024, "resid_pdrop": 0.1,
             "summary_activation": null, "summary_type": "cls_index", "vocab_size": 50257, "n_inner": null}
            """;
        var config = GptHuggingFaceConfig.Parse(json);
        Assert.Equal(GptConfig.Gpt2Large with { Dropout = 0.1f }, config);
        Assert.Equal(config, GptHuggingFaceConfig.Parse(GptHuggingFaceConfig.Format(config)));
        var rotary = GptConfig.Tiny with { Positions = GptPositions.Rotary, TiedHead = false };
        Assert.Equal(rotary, GptHuggingFaceConfig.Parse(GptHuggingFaceConfig.Format(rotary)));
        Assert.Contains("layer_norm_epsilon", Assert.Throws<InvalidDataException>(() =>
            GptHuggingFaceConfig.Parse(json.Replace("1e-05", "1e-06", StringComparison.Ordinal))).Message);
        Assert.Contains("n_inner", Assert.Throws<InvalidDataException>(() =>
            GptHuggingFaceConfig.Parse(json.Replace("\"n_inner\": null", "\"n_inner\": 100", StringComparison.Ordinal))).Message);
        Assert.Contains("n_embd", Assert.Throws<InvalidDataException>(() => GptHuggingFaceConfig.Parse("{}")).Message);
    }

    [Fact]
    public void Initialization_follows_gpt2_and_repeats_for_a_seed()
    {
        var config = GptConfig.Tiny with { Vocab = 512 };
        using var parameters = GptParameters.Allocate(config, TinyModels.Cpu);
        GptInitializer.Initialize(parameters, seed: 5);
        double Std(string name) => Math.Sqrt(parameters[name].ToArray().Average(v => (double)v * v));
        Assert.InRange(Std("wte.weight"), 0.0195, 0.0205);
        Assert.InRange(Std("h.0.mlp.c_fc.weight"), 0.0195, 0.0205);
        Assert.InRange(Std("h.1.mlp.c_proj.weight"), 0.975 * 0.02 / Math.Sqrt(8), 1.025 * 0.02 / Math.Sqrt(8));
        Assert.All(parameters["h.2.ln_2.weight"].ToArray(), v => Assert.Equal(1f, v));
        Assert.All(parameters["ln_f.bias"].ToArray(), v => Assert.Equal(0f, v));
        Assert.All(parameters["h.3.attn.c_attn.bias"].ToArray(), v => Assert.Equal(0f, v));
        var first = parameters.All.ToArray();
        GptInitializer.Initialize(parameters, seed: 5);
        Assert.Equal(first, parameters.All.ToArray());
    }
}
