using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Hugging Face checkpoints written by the test itself with the exact key names and PyTorch shapes of a
/// tiny config (docs/algorithms.md §1.6): loading in F32/F16/BF16 under each prefix, export round trips, and bad input.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class HuggingFaceImportTests
{
    private const string ConfigJson = """
        {"model_type": "mdlm", "hidden_dim": 16, "cond_dim": 8, "n_blocks": 2, "n_heads": 2, "dropout": 0.1,
         "model_length": 6, "vocab_size": 11, "time_conditioning": false}
        """;

    [Theory]
    [InlineData("F32", "backbone.")]
    [InlineData("F16", "backbone.")]
    [InlineData("BF16", "backbone.backbone.")]
    [InlineData("F32", "")]
    public void Synthetic_checkpoint_loads_with_every_dtype_and_prefix(string dtypeName, string prefix)
    {
        var dtype = Enum.Parse<SafetensorsDtype>(dtypeName);
        using var folder = new TempDirectory();
        var values = WriteCheckpoint(folder, dtype, prefix, _ => { });
        using var model = HuggingFaceImport.Load(folder.Path, TinyModels.Cpu);

        Assert.Equal(TinyModels.RandomDit(dropout: 0.1f), model.Config);
        Assert.Null(model.Gradients);
        foreach (var (name, _) in model.Parameters.Entries)
            Assert.Equal(RawSafetensors.RoundTrip(dtype, values[name]), model.Parameters[name].ToArray());
        Assert.Equal(prefix, HuggingFaceImport.LoadWeights(model.Parameters, folder.File(HuggingFaceImport.WeightsFileName)));
    }

    [Fact]
    public void Export_writes_hf_names_and_loads_back_to_the_same_logits()
    {
        using var folder = new TempDirectory();
        var device = TinyModels.Cpu;
        var config = TinyModels.RandomDit(timeConditioning: true, dropout: 0.2f);
        using var model = new Dit(config, device, withGradients: false);
        TinyModels.Randomize(model.Parameters, seed: 41);
        HuggingFaceImport.Save(model.Parameters, folder.Path);

        Assert.Equal([HuggingFaceConfig.FileName, HuggingFaceImport.WeightsFileName], folder.AllFiles());
        using (var reader = SafetensorsReader.Open(folder.File(HuggingFaceImport.WeightsFileName)))
        {
            var names = reader.Tensors.Select(t => t.Name).ToArray();
            Assert.Equal(["backbone.vocab_embed.embedding", "backbone.sigma_map.mlp.0.weight", "backbone.sigma_map.mlp.0.bias",
                "backbone.sigma_map.mlp.2.weight", "backbone.sigma_map.mlp.2.bias", "backbone.rotary_emb.inv_freq",
                "backbone.blocks.0.norm1.weight"], names.Take(7));
            Assert.Equal("backbone.output_layer.adaLN_modulation.bias", names[^1]);
            Assert.Equal([48L, 16L], reader.GetInfo("backbone.blocks.1.attn_qkv.weight").Shape);
            Assert.Equal([96L, 8L], reader.GetInfo("backbone.blocks.0.adaLN_modulation.weight").Shape);
            Assert.Equal([16L, 64L], reader.GetInfo("backbone.blocks.0.mlp.2.weight").Shape);
            Assert.Equal([11L, 16L], reader.GetInfo("backbone.output_layer.linear.weight").Shape);
            Assert.Equal([1f, 0.1f], reader.ReadFloats("backbone.rotary_emb.inv_freq").Take(2).Select(v => MathF.Round(v, 6)));
        }
        using var loaded = HuggingFaceImport.Load(folder.Path, device, withGradients: true);
        Assert.Equal(config, loaded.Config);
        Assert.Equal(model.Parameters.All.ToArray(), loaded.Parameters.All.ToArray());

        var ids = TinyModels.Upload(device, TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 42).Noisy);
        using var a = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        using var b = loaded.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        Assert.Equal(model.Forward(a, ids, [0.1f, 3f], null, 0, DitDropout.Off).ToArray(),
            loaded.Forward(b, ids, [0.1f, 3f], null, 0, DitDropout.Off).ToArray());
    }

    [Fact]
    public void A_bf16_export_is_about_half_the_size_and_loads_back_to_logits_close_to_the_f32_model()
    {
        using var f32 = new TempDirectory();
        using var bf16 = new TempDirectory();
        var device = TinyModels.Cpu;
        var config = TinyModels.RandomDit(timeConditioning: true);
        using var model = new Dit(config, device, withGradients: false);
        TinyModels.Randomize(model.Parameters, seed: 43);
        HuggingFaceImport.Save(model.Parameters, f32.Path);
        HuggingFaceImport.Save(model.Parameters, bf16.Path, dtype: WeightsDtype.BF16);

        long f32Bytes = new FileInfo(f32.File(HuggingFaceImport.WeightsFileName)).Length;
        long bf16Bytes = new FileInfo(bf16.File(HuggingFaceImport.WeightsFileName)).Length;
        Assert.InRange(bf16Bytes, f32Bytes / 2, f32Bytes * 6 / 10); // the same header, half the data
        using (var reader = SafetensorsReader.Open(bf16.File(HuggingFaceImport.WeightsFileName)))
            Assert.All(reader.Tensors, t => Assert.Equal(SafetensorsDtype.BF16, t.Dtype));
        using var loaded = HuggingFaceImport.Load(bf16.Path, device);
        Assert.Equal(config, loaded.Config);
        float[] original = model.Parameters.All.ToArray(), rounded = loaded.Parameters.All.ToArray();
        for (int i = 0; i < original.Length; i++) // 8 significant bits: within half a unit in the last place, 2⁻⁸ relative
            Assert.True(Math.Abs(rounded[i] - original[i]) <= Math.Abs(original[i]) / 256, $"weight {i}: {original[i]} → {rounded[i]}");

        var ids = TinyModels.Upload(device, TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 44).Noisy);
        using var a = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        using var b = loaded.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        float[] expected = model.Forward(a, ids, [0.1f, 3f], null, 0, DitDropout.Off).ToArray();
        float[] actual = loaded.Forward(b, ids, [0.1f, 3f], null, 0, DitDropout.Off).ToArray();
        Assert.NotEqual(expected, actual);
        // Each weight is off by at most 2⁻⁸ relative (2⁻⁹ on average); through two blocks' few products the errors of independent
        // weights mostly cancel, so every logit stays within a few 2⁻⁸ of the largest one (single logits near 0 can still be
        // off by more than their own size).
        double scale = expected.Max(MathF.Abs), worst = expected.Zip(actual, (e, g) => Math.Abs(e - g)).Max();
        Assert.True(worst <= 4.0 / 256 * scale, $"bf16 logits differ by up to {worst} of {scale}");
    }

    [Fact]
    public void Bf16_weights_round_to_nearest_even()
    {
        float tieDown = 1 + MathF.Pow(2, -8), tieUp = 1 + 3 * MathF.Pow(2, -8), aboveTie = 1 + MathF.Pow(2, -8) + MathF.Pow(2, -20);
        Assert.Equal([0x3F80, 0x3F82, 0x3F81, 0xC020, 0x7F80, 0x8000],
            new[] { tieDown, tieUp, aboveTie, -2.5f, float.MaxValue, -0f }.Select(v => (int)BFloat16.FromFloat(v)));
        Assert.True(float.IsNaN(BitConverter.Int32BitsToSingle(BFloat16.FromFloat(float.NaN) << 16)));

        using var folder = new TempDirectory();
        var writer = new SafetensorsWriter { Dtype = SafetensorsDtype.BF16 };
        writer.Add("x", new[] { tieDown, tieUp, aboveTie, -2.5f }, 4);
        writer.Write(folder.File("x.safetensors"));
        using var reader = SafetensorsReader.Open(folder.File("x.safetensors"));
        Assert.Equal(SafetensorsDtype.BF16, reader.GetInfo("x").Dtype);
        Assert.Equal([1f, 1.015625f, 1.0078125f, -2.5f], reader.ReadFloats("x"));
    }

    [Fact]
    public void Config_values_are_honoured_and_bad_configs_name_the_key()
    {
        var config = HuggingFaceConfig.Parse("""
            {"hidden_dim": 64, "cond_dim": 32, "n_blocks": 3, "n_heads": 4, "vocab_size": 100, "model_length": 256, "dropout": 0.05,
             "time_conditioning": true}
            """);
        Assert.Equal(new DitConfig
        {
            Hidden = 64,
            CondDim = 32,
            Layers = 3,
            Heads = 4,
            Vocab = 100,
            Length = 256,
            Dropout = 0.05f,
            TimeConditioning = true,
        }, config);
        Assert.Equal(DitConfig.Small, HuggingFaceConfig.Parse("""
            {"model_type": "mdlm", "hidden_dim": 768, "cond_dim": 128, "n_blocks": 12, "n_heads": 12, "dropout": 0.1,
             "model_length": 1024, "vocab_size": 50258, "time_conditioning": false}
            """));
        Assert.Equal(config, HuggingFaceConfig.Parse(HuggingFaceConfig.Format(config)));
        Assert.DoesNotContain("qk_norm", HuggingFaceConfig.Format(config));
        var qkNormed = config with { QkNorm = true };
        Assert.Contains("\"qk_norm\": true", HuggingFaceConfig.Format(qkNormed));
        Assert.Equal(qkNormed, HuggingFaceConfig.Parse(HuggingFaceConfig.Format(qkNormed)));
        Assert.Equal(new DitConfig { Hidden = 32, Layers = 2, Heads = 2, CondDim = 16, Length = 64 },
            HuggingFaceConfig.Parse("""{"model": {"hidden_size": 32, "cond_dim": 16, "length": 64, "n_blocks": 2, "n_heads": 2}}"""));

        Assert.Contains("'hidden_dim'", ParseError("""{"n_blocks": 2, "n_heads": 2}"""));
        Assert.Contains("not divisible", ParseError("""{"hidden_dim": 30, "n_blocks": 2, "n_heads": 4}"""));
        Assert.Contains("'n_heads'", ParseError("""{"hidden_dim": 32, "n_blocks": 2, "n_heads": "two"}"""));
        Assert.Contains("'time_conditioning'", ParseError("""{"hidden_dim": 32, "n_blocks": 2, "n_heads": 2, "time_conditioning": 1}"""));
    }

    /// <summary>The message of the <see cref="InvalidDataException"/> that parsing <paramref name="json"/> throws.</summary>
    private static string ParseError(string json) => Assert.Throws<InvalidDataException>(() => HuggingFaceConfig.Parse(json)).Message;

    [Fact]
    public void Missing_tensor_is_named()
    {
        using var folder = new TempDirectory();
        WriteCheckpoint(folder, SafetensorsDtype.F32, "backbone.", tensors => tensors.Remove("blocks.1.mlp.2.bias"));
        var error = Assert.Throws<InvalidDataException>(() => HuggingFaceImport.Load(folder.Path, TinyModels.Cpu));
        Assert.Contains("'backbone.blocks.1.mlp.2.bias'", error.Message);
    }

    [Fact]
    public void Shape_mismatch_with_the_config_names_the_tensor_and_both_shapes()
    {
        using var folder = new TempDirectory();
        WriteCheckpoint(folder, SafetensorsDtype.F32, "backbone.", tensors =>
            tensors["blocks.0.attn_qkv.weight"] = (new float[16 * 48], [16, 48]));
        var error = Assert.Throws<InvalidDataException>(() => HuggingFaceImport.Load(folder.Path, TinyModels.Cpu));
        Assert.Contains("'backbone.blocks.0.attn_qkv.weight'", error.Message);
        Assert.Contains("[16, 48]", error.Message);
        Assert.Contains("[48, 16]", error.Message);
    }

    [Fact]
    public void Tensors_the_config_does_not_have_are_reported()
    {
        using var folder = new TempDirectory();
        WriteCheckpoint(folder, SafetensorsDtype.F32, "backbone.", tensors => tensors["blocks.2.norm1.weight"] = (new float[16], [16]));
        var error = Assert.Throws<InvalidDataException>(() => HuggingFaceImport.Load(folder.Path, TinyModels.Cpu));
        Assert.Contains("'backbone.blocks.2.norm1.weight'", error.Message);
        Assert.Contains("config.json", error.Message);
    }

    [Fact]
    public void Unknown_dtype_and_truncation_name_the_tensor()
    {
        using var folder = new TempDirectory();
        File.WriteAllText(folder.File(HuggingFaceConfig.FileName), ConfigJson);
        string weights = folder.File(HuggingFaceImport.WeightsFileName);
        File.WriteAllBytes(weights, new RawSafetensors().AddRaw("backbone.vocab_embed.embedding", "F4", new byte[88], 11, 16).ToBytes());
        Assert.Contains("'backbone.vocab_embed.embedding'",
            Assert.Throws<InvalidDataException>(() => HuggingFaceImport.Load(folder.Path, TinyModels.Cpu)).Message);

        WriteCheckpoint(folder, SafetensorsDtype.F32, "backbone.", _ => { });
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..^10]);
        var error = Assert.Throws<InvalidDataException>(() => HuggingFaceImport.Load(folder.Path, TinyModels.Cpu));
        Assert.Contains("truncated", error.Message);
        Assert.Contains("'backbone.output_layer.adaLN_modulation.bias'", error.Message);
    }

    [Fact]
    public void Foreign_files_and_other_rotary_bases_are_rejected()
    {
        using var folder = new TempDirectory();
        WriteCheckpoint(folder, SafetensorsDtype.F32, "backbone.", tensors =>
            tensors["rotary_emb.inv_freq"] = ([1f, 0.5f, 0.25f, 0.125f], [4]));
        Assert.Contains("'backbone.rotary_emb.inv_freq'",
            Assert.Throws<InvalidDataException>(() => HuggingFaceImport.Load(folder.Path, TinyModels.Cpu)).Message);

        File.WriteAllBytes(folder.File(HuggingFaceImport.WeightsFileName),
            new RawSafetensors().Add("transformer.wte.weight", SafetensorsDtype.F32, new float[4], 4).ToBytes());
        Assert.Contains("not an MDLM checkpoint",
            Assert.Throws<InvalidDataException>(() => HuggingFaceImport.Load(folder.Path, TinyModels.Cpu)).Message);
    }

    /// <summary>
    /// Writes config.json and model.safetensors of the tiny config by hand: every parameter under its HF name with
    /// random values in its PyTorch shape, plus the rotary buffer; <paramref name="edit"/> may change the tensor set.
    /// </summary>
    private static Dictionary<string, float[]> WriteCheckpoint(TempDirectory folder, SafetensorsDtype dtype, string prefix,
        Action<Dictionary<string, (float[] Values, long[] Shape)>> edit)
    {
        var config = TinyModels.RandomDit(dropout: 0.1f);
        var tensors = new Dictionary<string, (float[] Values, long[] Shape)>();
        int seed = 0;
        foreach (var (name, shape) in DitParameters.Layout(config))
        {
            tensors[name] = (Numerics.Random((int)shape.Length, 100 + seed++),
                Enumerable.Range(0, shape.Rank).Select(i => (long)shape[i]).ToArray());
            if (name == "sigma_map.mlp.2.bias")
                tensors["rotary_emb.inv_freq"] = (HuggingFaceImport.InverseFrequencies(config.HeadDim), [config.HeadDim / 2]);
        }
        edit(tensors);
        var file = new RawSafetensors();
        foreach (var (name, (values, shape)) in tensors)
            file.Add(prefix + name, name == "rotary_emb.inv_freq" ? SafetensorsDtype.F32 : dtype, values, shape);
        File.WriteAllText(folder.File(HuggingFaceConfig.FileName), ConfigJson);
        File.WriteAllBytes(folder.File(HuggingFaceImport.WeightsFileName), file.ToBytes());
        return tensors.ToDictionary(t => t.Key, t => t.Value.Values);
    }
}
