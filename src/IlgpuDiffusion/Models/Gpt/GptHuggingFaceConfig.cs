using System.Text.Json.Nodes;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Maps the <c>config.json</c> of a Hugging Face GPT-2 checkpoint (<c>openai-community/gpt2</c>, <c>gpt2-medium</c>,
/// <c>gpt2-large</c>: <c>n_embd</c>, <c>n_head</c>, <c>n_layer</c>, <c>n_positions</c>, <c>vocab_size</c>,
/// <c>resid_pdrop</c>, <c>tie_word_embeddings</c>) to a <see cref="GptConfig"/> and back. Settings the model cannot
/// honour are refused rather than ignored: another activation than GELU-tanh, another LayerNorm epsilon than 1e-5, an
/// MLP width other than 4·n_embd, unscaled or layer-scaled attention. The key <c>ilgpu_positions</c> = <c>"rotary"</c>
/// (written by the export of a rotary model, unknown to Hugging Face) selects rotary positions, and the key
/// <c>ilgpu_tokenizer</c> (written by the export of a model over another tokenizer than GPT-2) names the tokenizer.
/// </summary>
internal static class GptHuggingFaceConfig
{
    /// <summary>The file name beside <c>model.safetensors</c>.</summary>
    public const string FileName = "config.json";

    private const string PositionsKey = "ilgpu_positions";

    /// <summary>Reads and maps <paramref name="path"/>; errors name the file and the key.</summary>
    public static GptConfig Read(string path) => ConfigJson.Read(path, Parse);

    /// <summary>Maps the JSON text of a GPT-2 config to a validated <see cref="GptConfig"/>.</summary>
    public static GptConfig Parse(string json)
    {
        var root = ConfigJson.Root(json);
        string activation = String(root, "activation_function", "gelu_new");
        if (activation is not ("gelu_new" or "gelu_pytorch_tanh"))
            throw new InvalidDataException($"Config value 'activation_function' is '{activation}'; " +
                "the model implements GELU with the tanh approximation ('gelu_new').");
        double epsilon = Number(root, "layer_norm_epsilon", GptConfig.LayerNormEpsilon);
        if (Math.Abs(epsilon - GptConfig.LayerNormEpsilon) > 1e-12)
            throw new InvalidDataException($"Config value 'layer_norm_epsilon' is {epsilon}; the model uses {GptConfig.LayerNormEpsilon}.");
        if (!Bool(root, "scale_attn_weights", true) || Bool(root, "scale_attn_by_inverse_layer_idx", false))
            throw new InvalidDataException("The config asks for attention scores not scaled by exactly 1/√head_dim " +
                "('scale_attn_weights' false or 'scale_attn_by_inverse_layer_idx' true); the model does not support it.");
        int hidden = Int(root, "n_embd", null);
        if (root["n_inner"] is JsonValue && Int(root, "n_inner", null) != GptConfig.MlpRatio * hidden)
            throw new InvalidDataException($"Config value 'n_inner' is {root["n_inner"]}; " +
                $"the model's MLP is {GptConfig.MlpRatio}·n_embd = {GptConfig.MlpRatio * hidden} wide.");
        string positions = String(root, PositionsKey, "learned");
        string tokenizer = String(root, HuggingFaceConfig.TokenizerKey, Gpt2Tokenizer.Name);
        var config = new GptConfig
        {
            Hidden = hidden,
            Heads = Int(root, "n_head", null),
            Layers = Int(root, "n_layer", null),
            Length = Int(root, "n_positions", 1024),
            Vocab = Int(root, "vocab_size", 50257),
            Dropout = (float)Number(root, "resid_pdrop", 0.1),
            TiedHead = Bool(root, "tie_word_embeddings", true),
            Tokenizer = tokenizer,
            Positions = positions switch
            {
                "learned" => GptPositions.Learned,
                "rotary" => GptPositions.Rotary,
                _ => throw new InvalidDataException($"Config value '{PositionsKey}' must be 'learned' or 'rotary'; got '{positions}'."),
            },
        };
        return ConfigJson.Validated(config.Validate);
    }

    /// <summary>The GPT-2 <c>config.json</c> text of <paramref name="config"/>.</summary>
    public static string Format(GptConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        double dropout = (double)(decimal)config.Dropout; // 0.1f is written as 0.1
        int endOfText = Tokenizer.ForModel(config.Tokenizer, config.Vocab).EndOfText;
        var root = new JsonObject
        {
            ["model_type"] = "gpt2",
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["n_embd"] = config.Hidden,
            ["n_head"] = config.Heads,
            ["n_layer"] = config.Layers,
            ["n_positions"] = config.Length,
            ["n_ctx"] = config.Length,
            ["vocab_size"] = config.Vocab,
            ["n_inner"] = null,
            ["activation_function"] = "gelu_new",
            ["layer_norm_epsilon"] = (double)(decimal)GptConfig.LayerNormEpsilon,
            ["resid_pdrop"] = dropout,
            ["embd_pdrop"] = dropout,
            ["attn_pdrop"] = 0.0,
            ["tie_word_embeddings"] = config.TiedHead,
            ["bos_token_id"] = endOfText,
            ["eos_token_id"] = endOfText,
        };
        if (config.Positions == GptPositions.Rotary) root[PositionsKey] = "rotary";
        if (config.Tokenizer != Gpt2Tokenizer.Name) root[HuggingFaceConfig.TokenizerKey] = config.Tokenizer;
        return ConfigJson.Format(root);
    }

    private static int Int(JsonObject root, string key, int? fallback) => ConfigJson.Int(root[key], key, fallback);

    private static double Number(JsonObject root, string key, double? fallback) => ConfigJson.Number(root[key], key, fallback);

    private static bool Bool(JsonObject root, string key, bool fallback) => ConfigJson.Bool(root[key], key, fallback);

    private static string String(JsonObject root, string key, string fallback) => ConfigJson.String(root[key], key, fallback);
}
