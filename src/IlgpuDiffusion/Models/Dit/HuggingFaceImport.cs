using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Files;
using IlgpuDiffusion.Models.Safetensors;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Loads and saves Hugging Face MDLM checkpoints (<c>kuleshov-group/mdlm-owt</c>, <c>jdeschena/sdtt</c>):
/// a folder with <c>config.json</c> and <c>model.safetensors</c> whose keys are the parameter names of
/// <see cref="DitParameters"/> under the prefix <c>backbone.</c> (or <c>backbone.backbone.</c> for SDTT
/// students), PyTorch [out, in] layouts, F32/F16/BF16. Every expected tensor must be present with the
/// config's shape; the rotary buffer <c>rotary_emb.inv_freq</c>, when present, must hold the fp32
/// frequencies the model recomputes. Errors name the tensor.
/// </summary>
public static class HuggingFaceImport
{
    /// <summary>The weights file inside a checkpoint folder.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>The prefix the export writes (and the released MDLM weights use).</summary>
    public const string Prefix = "backbone.";

    /// <summary>Name of the rotary frequency buffer (not a parameter).</summary>
    public const string InverseFrequencyName = "rotary_emb.inv_freq";

    /// <summary>Bytes of the narrowest dtype a weight may be stored in (F16, BF16).</summary>
    private const int MinimumBytesPerParameter = 2;

    private static readonly string[] Prefixes = ["backbone.backbone.", "backbone.", ""];

    /// <summary>
    /// Reads <c>config.json</c> and <c>model.safetensors</c> from <paramref name="folder"/> into a new model, after checking
    /// that the weights file could hold a model of the config's size.
    /// </summary>
    public static Dit Load(string folder, Device device, bool withGradients = false)
    {
        string configPath = Path.Combine(folder, HuggingFaceConfig.FileName);
        var config = HuggingFaceConfig.Read(configPath);
        using var reader = SafetensorsReader.Open(Path.Combine(folder, WeightsFileName));
        string prefix = KeyPrefixOf(reader); // a foreign file is refused as such before its size is compared
        LoadedModel.CheckWeightsFit(reader, config.ParameterCount(), MinimumBytesPerParameter,
            $"'{configPath}' (n_blocks {config.Layers}, hidden_dim {config.Hidden}, cond_dim {config.CondDim}, vocab_size {config.Vocab})");
        return LoadedModel.Fill(new Dit(config, device, withGradients), m => LoadWeights(m.Parameters, reader, prefix));
    }

    /// <summary>Loads every parameter from a safetensors file, detecting the key prefix; returns the prefix used.</summary>
    public static string LoadWeights(DitParameters parameters, string path)
    {
        using var reader = SafetensorsReader.Open(path);
        return LoadWeights(parameters, reader, KeyPrefixOf(reader));
    }

    /// <summary>The key prefix of the checkpoint's tensors; throws when the file is no MDLM checkpoint.</summary>
    private static string KeyPrefixOf(SafetensorsReader reader) =>
        Prefixes.FirstOrDefault(p => reader.Contains(p + "vocab_embed.embedding"))
            ?? throw new InvalidDataException($"'{reader.Path}' has no tensor 'vocab_embed.embedding' " +
                $"under any of the prefixes {string.Join(", ", Prefixes.Select(p => $"'{p}'"))}: it is not an MDLM checkpoint.");

    private static string LoadWeights(DitParameters parameters, SafetensorsReader reader, string prefix)
    {
        string path = reader.Path;
        var expected = new HashSet<string>(parameters.Entries.Select(e => prefix + e.Name)) { prefix + InverseFrequencyName };
        var unexpected = reader.Tensors.Select(t => t.Name)
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && !expected.Contains(n))
            .ToArray();
        if (unexpected.Length > 0)
            throw new InvalidDataException($"'{path}' holds tensors a {Describe(parameters.Config)} model does not have: " +
                $"{string.Join(", ", unexpected.Take(5).Select(n => $"'{n}'"))}{(unexpected.Length > 5 ? ", ..." : "")}. " +
                "Does config.json match the weights?");

        foreach (var (name, shape) in parameters.Entries)
        {
            var info = reader.GetInfo(prefix + name);
            CheckShape(path, info, shape, parameters.Config);
            reader.ReadFloats(info.Name, parameters[name]);
        }
        if (reader.Contains(prefix + InverseFrequencyName))
            CheckInverseFrequency(path, reader, prefix + InverseFrequencyName, parameters.Config);
        return prefix;
    }

    /// <summary>
    /// Writes <paramref name="parameters"/> as a Hugging Face checkpoint folder: <c>model.safetensors</c> (F32 or
    /// <paramref name="dtype"/>,
    /// keys <c>backbone.*</c>, the rotary buffer included) and <c>config.json</c>, each written atomically. A model over
    /// another tokenizer than GPT-2 keeps it: <c>config.json</c> names it under <c>ilgpu_tokenizer</c>, which <see cref="Load"/>
    /// reads back (MDLM's own code would pair the weights with GPT-2's tokenizer). A distilled student's
    /// <paramref name="samplingSteps"/> go under <see cref="HuggingFaceConfig.SamplingStepsKey"/>.
    /// </summary>
    public static void Save(DitParameters parameters, string folder, int? samplingSteps = null, WeightsDtype dtype = WeightsDtype.F32)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Directory.CreateDirectory(folder);
        var config = parameters.Config;
        var writer = new SafetensorsWriter { Dtype = dtype.Stored() };
        foreach (var (name, shape) in parameters.Entries)
        {
            writer.Add(Prefix + name, parameters[name], Dimensions(shape));
            if (name == "sigma_map.mlp.2.bias") // the buffer sits between sigma_map and blocks in module order
                writer.Add(Prefix + InverseFrequencyName, InverseFrequencies(config.HeadDim), config.HeadDim / 2);
        }
        writer.Write(Path.Combine(folder, WeightsFileName));
        AtomicFile.WriteAllText(Path.Combine(folder, HuggingFaceConfig.FileName), HuggingFaceConfig.Format(config, samplingSteps));
    }

    /// <summary>inv_freq_j = 1/10000^(2j/d) in fp32, as the reference's buffer (and <see cref="RotaryTables"/>) computes it.</summary>
    public static float[] InverseFrequencies(int headDim) =>
        Enumerable.Range(0, headDim / 2).Select(j => 1f / MathF.Pow(10000f, (2 * j) / (float)headDim)).ToArray();

    private static void CheckShape(string path, SafetensorsTensorInfo info, Shape shape, DitConfig config)
    {
        var expected = Dimensions(shape);
        if (!info.Shape.SequenceEqual(expected))
            throw new InvalidDataException($"Tensor '{info.Name}' in '{path}' has shape {info.ShapeText} but a {Describe(config)} model " +
                $"needs {SafetensorsTensorInfo.FormatShape(expected)}.");
    }

    private static void CheckInverseFrequency(string path, SafetensorsReader reader, string name, DitConfig config)
    {
        var info = reader.GetInfo(name);
        var expected = InverseFrequencies(config.HeadDim);
        if (!info.Shape.SequenceEqual([(long)expected.Length]))
            throw new InvalidDataException($"Tensor '{name}' in '{path}' has shape {info.ShapeText} but head dimension {config.HeadDim} " +
                $"needs [{expected.Length}].");
        var stored = reader.ReadFloats(name);
        for (int j = 0; j < expected.Length; j++)
            if (Math.Abs(stored[j] - expected[j]) > 1e-6f * expected[j] + (info.Dtype == SafetensorsDtype.F32 ? 0f : 1e-2f * expected[j]))
                throw new InvalidDataException($"Tensor '{name}' in '{path}' holds {stored[j]} at [{j}] where the rotary base 10000 " +
                    $"gives {expected[j]}: unsupported rotary embedding.");
    }

    private static long[] Dimensions(Shape shape) => Enumerable.Range(0, shape.Rank).Select(i => (long)shape[i]).ToArray();

    private static string Describe(DitConfig c) => $"{c.Layers}-block, {c.Hidden}-wide, {c.Heads}-head, cond {c.CondDim}, vocab {c.Vocab}";
}
