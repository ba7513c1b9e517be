using System.Text.RegularExpressions;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Files;
using IlgpuDiffusion.Models.Safetensors;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Loads and saves Hugging Face GPT-2 checkpoints: a folder with <c>config.json</c> (<see cref="GptHuggingFaceConfig"/>)
/// and <c>model.safetensors</c> whose keys are the names of <see cref="GptParameters"/>, optionally under the prefix
/// <c>transformer.</c> (<c>lm_head.weight</c> without it), with the Conv1D weights (<c>c_attn</c>, <c>c_proj</c>,
/// <c>c_fc</c>) stored [in, out] and transposed here into our [out, in] layout; F32, F16 or BF16. The causal-mask
/// buffers <c>h.{i}.attn.bias</c> and <c>h.{i}.attn.masked_bias</c> of older checkpoints are skipped. Every parameter
/// must be present with the config's shape; a tied model's <c>lm_head.weight</c>, when stored, must equal <c>wte</c>.
/// Errors name the tensor.
/// </summary>
public static partial class GptHuggingFace
{
    /// <summary>The weights file inside a checkpoint folder.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>The prefix of the body's keys in checkpoints saved from <c>GPT2LMHeadModel</c>.</summary>
    public const string TransformerPrefix = "transformer.";

    private const string HeadName = "lm_head.weight";

    /// <summary>Bytes of the narrowest dtype a weight may be stored in (F16, BF16).</summary>
    private const int MinimumBytesPerParameter = 2;

    /// <summary>
    /// Reads <c>config.json</c> and <c>model.safetensors</c> from <paramref name="folder"/> into a new model, after checking
    /// that the weights file could hold a model of the config's size.
    /// </summary>
    public static Gpt Load(string folder, Device device, bool withGradients = false)
    {
        string configPath = Path.Combine(folder, GptHuggingFaceConfig.FileName);
        var config = GptHuggingFaceConfig.Read(configPath);
        using var reader = SafetensorsReader.Open(Path.Combine(folder, WeightsFileName));
        string prefix = KeyPrefixOf(reader); // a foreign file is refused as such before its size is compared
        LoadedModel.CheckWeightsFit(reader, config.ParameterCount(), MinimumBytesPerParameter,
            $"'{configPath}' (n_layer {config.Layers}, n_embd {config.Hidden}, vocab_size {config.Vocab}, n_positions {config.Length})");
        return LoadedModel.Fill(new Gpt(config, device, withGradients), m => LoadWeights(m.Parameters, reader, prefix));
    }

    /// <summary>Loads every parameter from a safetensors file, detecting the key prefix; returns the prefix used.</summary>
    public static string LoadWeights(GptParameters parameters, string path)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var reader = SafetensorsReader.Open(path);
        return LoadWeights(parameters, reader, KeyPrefixOf(reader));
    }

    /// <summary>The key prefix of the body's tensors; throws when the file is no GPT-2 checkpoint.</summary>
    private static string KeyPrefixOf(SafetensorsReader reader) =>
        reader.Contains(TransformerPrefix + "wte.weight") ? TransformerPrefix
            : reader.Contains("wte.weight") ? ""
            : throw new InvalidDataException($"'{reader.Path}' has no tensor 'wte.weight' (nor 'transformer.wte.weight'): " +
                "it is not a GPT-2 checkpoint.");

    private static string LoadWeights(GptParameters parameters, SafetensorsReader reader, string prefix)
    {
        string path = reader.Path;
        string KeyOf(string name) => name == HeadName && !reader.Contains(prefix + HeadName) ? HeadName : prefix + name;

        var expected = parameters.Entries.Select(e => KeyOf(e.Name)).ToHashSet();
        string tiedHead = parameters.Config.TiedHead && (reader.Contains(HeadName) || reader.Contains(prefix + HeadName))
            ? KeyOf(HeadName)
            : "";
        var unexpected = reader.Tensors.Select(t => t.Name)
            .Where(n => !expected.Contains(n) && n != tiedHead && !IsMaskBuffer(n, prefix)).ToArray();
        if (unexpected.Length > 0)
            throw new InvalidDataException($"'{path}' holds tensors a {Describe(parameters.Config)} model does not have: " +
                $"{string.Join(", ", unexpected.Take(5).Select(n => $"'{n}'"))}{(unexpected.Length > 5 ? ", ..." : "")}. " +
                "Does config.json match the weights?");

        // Check every shape before reading any, so that a bad file leaves the parameters untouched.
        foreach (var (name, shape) in parameters.Entries)
            CheckShape(path, reader.GetInfo(KeyOf(name)), HfShape(name, shape), parameters.Config);
        foreach (var (name, shape) in parameters.Entries)
        {
            string key = KeyOf(name);
            if (GptParameters.IsConv1DWeight(name))
                parameters[name].CopyFrom(Transpose(reader.ReadFloats(key), shape[1], shape[0]));
            else
                reader.ReadFloats(key, parameters[name]);
        }
        if (tiedHead.Length > 0) CheckTiedHead(path, reader, tiedHead, parameters);
        return prefix;
    }

    /// <summary>
    /// Writes <paramref name="parameters"/> as a Hugging Face GPT-2 checkpoint folder: <c>model.safetensors</c> (F32 or
    /// <paramref name="dtype"/>,
    /// keys without prefix as <c>openai-community/gpt2</c>, Conv1D weights [in, out], no <c>lm_head.weight</c> when tied)
    /// and <c>config.json</c>, each written atomically. A model over another tokenizer than GPT-2 keeps it: its name goes
    /// under <c>ilgpu_tokenizer</c> and its end-of-text into <c>bos_token_id</c>/<c>eos_token_id</c>, and <see cref="Load"/>
    /// reads it back (Hugging Face's GPT-2 code would pair the weights with GPT-2's tokenizer).
    /// </summary>
    public static void Save(GptParameters parameters, string folder, WeightsDtype dtype = WeightsDtype.F32)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Directory.CreateDirectory(folder);
        var writer = new SafetensorsWriter { Dtype = dtype.Stored() };
        foreach (var (name, shape) in parameters.Entries)
        {
            var tensor = parameters[name];
            if (GptParameters.IsConv1DWeight(name))
                writer.Add(name, Transpose(tensor.ToArray(), shape[0], shape[1]), HfShape(name, shape));
            else
                writer.Add(name, tensor, HfShape(name, shape));
        }
        writer.Write(Path.Combine(folder, WeightsFileName));
        AtomicFile.WriteAllText(Path.Combine(folder, GptHuggingFaceConfig.FileName), GptHuggingFaceConfig.Format(parameters.Config));
    }

    /// <summary>The shape Hugging Face stores tensor <paramref name="name"/> in: ours, transposed for Conv1D weights.</summary>
    public static long[] HfShape(string name, Shape shape) => GptParameters.IsConv1DWeight(name)
        ? [shape[1], shape[0]]
        : Enumerable.Range(0, shape.Rank).Select(i => (long)shape[i]).ToArray();

    /// <summary>A [rows, columns] row-major matrix transposed to [columns, rows].</summary>
    private static float[] Transpose(float[] matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[(long)c * rows + r] = matrix[(long)r * columns + c];
        return result;
    }

    private static bool IsMaskBuffer(string name, string prefix) =>
        name.StartsWith(prefix, StringComparison.Ordinal) && MaskBuffer().IsMatch(name[prefix.Length..]);

    [GeneratedRegex(@"^h\.\d+\.attn\.(bias|masked_bias)$")]
    private static partial Regex MaskBuffer();

    private static void CheckShape(string path, SafetensorsTensorInfo info, long[] expected, GptConfig config)
    {
        if (!info.Shape.SequenceEqual(expected))
            throw new InvalidDataException($"Tensor '{info.Name}' in '{path}' has shape {info.ShapeText} but a {Describe(config)} model " +
                $"needs {SafetensorsTensorInfo.FormatShape(expected)}.");
    }

    private static void CheckTiedHead(string path, SafetensorsReader reader, string key, GptParameters parameters)
    {
        var head = reader.ReadFloats(key);
        if (!head.AsSpan().SequenceEqual(parameters.TokenEmbedding.ToArray()))
            throw new InvalidDataException($"'{path}' stores '{key}' different from 'wte.weight', " +
                "but config.json ties them (tie_word_embeddings): set it to false to load an untied head.");
    }

    private static string Describe(GptConfig c) =>
        $"{c.Layers}-layer, {c.Hidden}-wide, {c.Heads}-head, vocab {c.Vocab}, {c.Length}-position";
}
