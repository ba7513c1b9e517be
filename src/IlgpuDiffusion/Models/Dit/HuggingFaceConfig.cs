using System.Text.Json.Nodes;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Maps the <c>config.json</c> of a Hugging Face MDLM checkpoint (docs/algorithms.md §1.6: <c>hidden_dim</c>, <c>cond_dim</c>,
/// <c>n_blocks</c>, <c>n_heads</c>, <c>vocab_size</c>, <c>model_length</c>, <c>dropout</c>,
/// <c>time_conditioning</c>) to a <see cref="DitConfig"/> and back. Every value present is honoured;
/// <c>hidden_dim</c>, <c>n_blocks</c> and <c>n_heads</c> are required, the others default to the released model's.
/// Our own <c>qk_norm</c> key (<see cref="DitConfig.QkNorm"/>) is written only when true, so the configs of MDLM
/// models stay as MDLM's code writes them; MDLM's own code cannot load a model with QK-norm.
/// A Hydra-style <c>"model"</c> section (<c>hidden_size</c>, <c>cond_dim</c>, <c>length</c>, <c>n_blocks</c>,
/// <c>n_heads</c>), as in MDLM's yaml configs, is read when the top-level keys are absent (inferred layout). The key
/// <c>ilgpu_tokenizer</c> (written by the export of a model over another tokenizer than GPT-2, unknown to Hugging Face)
/// names its tokenizer; without it the model is GPT-2's, as every released MDLM and SDTT model.
/// </summary>
internal static class HuggingFaceConfig
{
    /// <summary>The file name beside <c>model.safetensors</c>.</summary>
    public const string FileName = "config.json";

    /// <summary>The key that names a tokenizer other than GPT-2 (read by this library only).</summary>
    public const string TokenizerKey = "ilgpu_tokenizer";

    /// <summary>The key under which an exported SDTT student names the sampling steps it was distilled for.</summary>
    public const string SamplingStepsKey = "ilgpu_sampling_steps";

    /// <summary>
    /// The sampling steps an exported student's <c>config.json</c> at <paramref name="path"/> names, or null (a teacher, or a
    /// model exported elsewhere).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON or the entry is not a positive integer.</exception>
    public static int? ReadSamplingSteps(string path) => ConfigJson.Read(path, json =>
    {
        JsonObject root = ConfigJson.Root(json);
        if (root[SamplingStepsKey] is null) return (int?)null;
        int steps = ConfigJson.Int(root[SamplingStepsKey], SamplingStepsKey, null);
        return steps >= 1 ? steps : throw new InvalidDataException($"{SamplingStepsKey} must be at least 1; got {steps}.");
    });

    /// <summary>Reads and maps <paramref name="path"/>; errors name the file and the key.</summary>
    public static DitConfig Read(string path) => ConfigJson.Read(path, Parse);

    /// <summary>Maps the JSON text of a config to a validated <see cref="DitConfig"/>.</summary>
    public static DitConfig Parse(string json)
    {
        var root = ConfigJson.Root(json);
        var hydra = root["model"] as JsonObject;
        var defaults = DitConfig.Small;
        var config = new DitConfig
        {
            Hidden = Int(root, "hidden_dim", hydra, "hidden_size", null),
            Layers = Int(root, "n_blocks", hydra, "n_blocks", null),
            Heads = Int(root, "n_heads", hydra, "n_heads", null),
            CondDim = Int(root, "cond_dim", hydra, "cond_dim", defaults.CondDim),
            Vocab = Int(root, "vocab_size", hydra, "vocab_size", defaults.Vocab),
            Length = Int(root, "model_length", hydra, "length", defaults.Length),
            Dropout = (float)Number(root, "dropout", hydra, "dropout", defaults.Dropout),
            TimeConditioning = ConfigJson.Bool(root["time_conditioning"], "time_conditioning", defaults.TimeConditioning),
            QkNorm = ConfigJson.Bool(root["qk_norm"], "qk_norm", defaults.QkNorm),
            Tokenizer = ConfigJson.String(root[TokenizerKey], TokenizerKey, defaults.Tokenizer),
        };
        return ConfigJson.Validated(config.Validate);
    }

    /// <summary>
    /// The HF <c>config.json</c> text of <paramref name="config"/>, naming <paramref name="samplingSteps"/> when given (a
    /// distilled student's).
    /// </summary>
    public static string Format(DitConfig config, int? samplingSteps = null)
    {
        var root = new JsonObject
        {
            ["model_type"] = "mdlm",
            ["hidden_dim"] = config.Hidden,
            ["cond_dim"] = config.CondDim,
            ["n_blocks"] = config.Layers,
            ["n_heads"] = config.Heads,
            ["dropout"] = (double)(decimal)config.Dropout, // 0.1f is written as 0.1
            ["model_length"] = config.Length,
            ["vocab_size"] = config.Vocab,
            ["time_conditioning"] = config.TimeConditioning,
        };
        if (config.QkNorm) root["qk_norm"] = true;
        if (config.Tokenizer != Data.Gpt2Tokenizer.Name) root[TokenizerKey] = config.Tokenizer;
        if (samplingSteps is int steps) root[SamplingStepsKey] = steps;
        return ConfigJson.Format(root);
    }

    private static int Int(JsonObject root, string key, JsonObject? hydra, string hydraKey, int? fallback) =>
        ConfigJson.Int(root[key] ?? hydra?[hydraKey], key, fallback);

    private static double Number(JsonObject root, string key, JsonObject? hydra, string hydraKey, double? fallback) =>
        ConfigJson.Number(root[key] ?? hydra?[hydraKey], key, fallback);
}
