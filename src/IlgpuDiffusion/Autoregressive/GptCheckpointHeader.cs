using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Autoregressive;

/// <summary>
/// The metadata of an autoregressive training checkpoint: format tag, model and training configs and the training
/// state, each stored as JSON text under its own key of the safetensors <c>__metadata__</c> map (as the MDLM
/// <see cref="CheckpointHeader"/>, with a GPT model config and its own format tag).
/// </summary>
/// <param name="Model">The model's shape.</param>
/// <param name="Training">The run's settings.</param>
/// <param name="State">Counters and data position.</param>
public sealed record GptCheckpointHeader(GptConfig Model, TrainingConfig Training, TrainingState State)
{
    /// <summary>Value of the <c>format</c> metadata key.</summary>
    public const string Format = "ilgpu-diffusion.gpt-training-checkpoint";

    /// <summary>Value of the <c>format_version</c> metadata key this library writes and reads.</summary>
    public const int Version = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The metadata entries.</summary>
    public Dictionary<string, string> ToMetadata() => new()
    {
        ["format"] = Format,
        ["format_version"] = Version.ToString(CultureInfo.InvariantCulture),
        ["model_config"] = JsonSerializer.Serialize(Model, Json),
        ["training_config"] = JsonSerializer.Serialize(Training, Json),
        ["training_state"] = JsonSerializer.Serialize(State, Json),
    };

    /// <summary>Parses the metadata of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a GPT training checkpoint of this version, or an entry is malformed.</exception>
    public static GptCheckpointHeader FromMetadata(string path, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue("format", out string? format) || format != Format)
            throw new InvalidDataException($"'{path}' is not an IlgpuDiffusion GPT training checkpoint (its metadata has format " +
                $"'{format ?? "(none)"}', expected '{Format}'). To start from published GPT-2 weights, import them instead.");
        string version = metadata.GetValueOrDefault("format_version", "(none)");
        if (version != Version.ToString(CultureInfo.InvariantCulture))
            throw new InvalidDataException($"'{path}' is a GPT training checkpoint of format version {version}; this library reads version {Version}.");
        return new GptCheckpointHeader(Parse<GptConfig>(path, metadata, "model_config"),
            Parse<TrainingConfig>(path, metadata, "training_config"), Parse<TrainingState>(path, metadata, "training_state"));
    }

    private static T Parse<T>(string path, IReadOnlyDictionary<string, string> metadata, string key)
    {
        if (!metadata.TryGetValue(key, out string? text))
            throw new InvalidDataException($"'{path}' lacks the '{key}' metadata entry of a training checkpoint.");
        try
        {
            return JsonSerializer.Deserialize<T>(text, Json) ?? throw new InvalidDataException($"'{path}': metadata entry '{key}' is null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}': metadata entry '{key}' is not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }
}
