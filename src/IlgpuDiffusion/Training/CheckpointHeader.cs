using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuDiffusion.Model;

namespace IlgpuDiffusion.Training;

/// <summary>
/// The metadata of a training checkpoint: format tag, model and training configs and the training state, each
/// stored as JSON text under its own key of the safetensors <c>__metadata__</c> map.
/// </summary>
/// <param name="Model">The model's shape.</param>
/// <param name="Training">The run's settings.</param>
/// <param name="State">Counters and data position.</param>
public sealed record CheckpointHeader(DitConfig Model, TrainingConfig Training, TrainingState State)
{
    /// <summary>Value of the <c>format</c> metadata key.</summary>
    public const string Format = "ilgpu-diffusion.mdlm-training-checkpoint";

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
        ["format_version"] = Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["model_config"] = JsonSerializer.Serialize(Model, Json),
        ["training_config"] = JsonSerializer.Serialize(Training, Json),
        ["training_state"] = JsonSerializer.Serialize(State, Json),
    };

    /// <summary>Parses the metadata of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a training checkpoint of this version, or an entry is malformed.</exception>
    public static CheckpointHeader FromMetadata(string path, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue("format", out string? format) || format != Format)
            throw new InvalidDataException($"'{path}' is not an IlgpuDiffusion training checkpoint (its metadata has format " +
                $"'{format ?? "(none)"}', expected '{Format}'). To start from published weights, import them instead.");
        string version = metadata.GetValueOrDefault("format_version", "(none)");
        if (version != Version.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new InvalidDataException($"'{path}' is a training checkpoint of format version {version}; this library reads version {Version}.");
        return new CheckpointHeader(
            Parse<DitConfig>(path, metadata, "model_config"),
            Parse<TrainingConfig>(path, metadata, "training_config"),
            Parse<TrainingState>(path, metadata, "training_state"));
    }

    /// <summary>
    /// Field-by-field differences between two configs as "Name: this, other" lines (empty when equal), from their
    /// JSON forms so that every serialized field is compared.
    /// </summary>
    public static IReadOnlyList<string> Differences<T>(T mine, T theirs, string mineLabel, string theirsLabel)
    {
        using var a = JsonSerializer.SerializeToDocument(mine, Json);
        using var b = JsonSerializer.SerializeToDocument(theirs, Json);
        var differences = new List<string>();
        foreach (var property in a.RootElement.EnumerateObject())
        {
            string left = property.Value.GetRawText();
            string right = b.RootElement.TryGetProperty(property.Name, out var other) ? other.GetRawText() : "(missing)";
            if (left != right) differences.Add($"{property.Name}: {mineLabel} {left}, {theirsLabel} {right}");
        }
        return differences;
    }

    private static T Parse<T>(string path, IReadOnlyDictionary<string, string> metadata, string key)
    {
        if (!metadata.TryGetValue(key, out string? text))
            throw new InvalidDataException($"'{path}' lacks the '{key}' metadata entry of a training checkpoint.");
        try
        {
            return JsonSerializer.Deserialize<T>(text, Json)
                ?? throw new InvalidDataException($"'{path}': metadata entry '{key}' is null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}': metadata entry '{key}' is not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }
}
