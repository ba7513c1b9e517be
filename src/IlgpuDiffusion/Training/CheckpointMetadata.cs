using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace IlgpuDiffusion.Training;

/// <summary>
/// The JSON side of every checkpoint's safetensors <c>__metadata__</c> map: each config or state is one entry of JSON
/// text, written and read with the same serializer settings (enums by name, NaN and infinities allowed). A training
/// checkpoint stores a format tag and version, the model config, the training config and the <see cref="TrainingState"/>.
/// </summary>
internal static class CheckpointMetadata
{
    /// <summary>Metadata keys of a training checkpoint.</summary>
    public const string FormatKey = "format", VersionKey = "format_version", ModelKey = "model_config",
        TrainingKey = "training_config", StateKey = "training_state";

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The JSON text of <paramref name="value"/>.</summary>
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Json);

    /// <summary>The metadata entries of a training checkpoint of <paramref name="format"/> (version <paramref name="version"/>).</summary>
    public static Dictionary<string, string> ForTraining<TModel>(string format, int version, TModel model, TrainingConfig training,
        TrainingState state) => new()
        {
            [FormatKey] = format,
            [VersionKey] = version.ToString(CultureInfo.InvariantCulture),
            [ModelKey] = Serialize(model),
            [TrainingKey] = Serialize(training),
            [StateKey] = Serialize(state),
        };

    /// <summary>
    /// Parses the entries written by <see cref="ForTraining"/> after checking the format tag and version, and checks the
    /// model config (with <paramref name="validate"/>) and the training config as a run would before using them.
    /// </summary>
    /// <param name="validate">The model config's own validation, throwing <see cref="ArgumentException"/>.</param>
    /// <param name="kind">What the file should be, in messages (e.g. "training checkpoint").</param>
    /// <param name="published">What to import instead when the file is no checkpoint (e.g. "published weights").</param>
    /// <exception cref="InvalidDataException">The file is not a <paramref name="kind"/> of this version, or an entry is
    /// malformed or holds an invalid config.</exception>
    public static (TModel Model, TrainingConfig Training, TrainingState State) ReadTraining<TModel>(string path,
        IReadOnlyDictionary<string, string> metadata, string format, int version, Action<TModel> validate, string kind,
        string published)
    {
        ArgumentNullException.ThrowIfNull(validate);
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(FormatKey, out string? found) || found != format)
            throw new InvalidDataException($"'{path}' is not an IlgpuDiffusion {kind} (its metadata has format " +
                $"'{found ?? "(none)"}', expected '{format}'). To start from {published}, import them instead.");
        string foundVersion = metadata.GetValueOrDefault(VersionKey, "(none)");
        if (foundVersion != version.ToString(CultureInfo.InvariantCulture))
            throw new InvalidDataException($"'{path}' is a {kind} of format version {foundVersion}; this library reads version {version}.");
        string Missing(string key) => $"'{path}' lacks the '{key}' metadata entry of a training checkpoint.";
        TModel model = Parse<TModel>(path, metadata, ModelKey, Missing(ModelKey));
        Check(path, ModelKey, () => validate(model));
        TrainingConfig training = Parse<TrainingConfig>(path, metadata, TrainingKey, Missing(TrainingKey));
        Check(path, TrainingKey, training.Validate);
        return (model, training, Parse<TrainingState>(path, metadata, StateKey, Missing(StateKey)));
    }

    /// <summary>Runs a config's <paramref name="validate"/>, reporting a refusal as a bad entry <paramref name="key"/>.</summary>
    private static void Check(string path, string key, Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            string reason = e.ParamName is null
                ? e.Message
                : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            throw new InvalidDataException($"'{path}': metadata entry '{key}' holds an invalid config: {reason}", e);
        }
    }

    /// <summary>The value of the JSON entry <paramref name="key"/>.</summary>
    /// <param name="missingMessage">The message when the entry is absent.</param>
    /// <exception cref="InvalidDataException">The entry is absent, null or not a valid <typeparamref name="T"/>.</exception>
    public static T Parse<T>(string path, IReadOnlyDictionary<string, string> metadata, string key, string missingMessage)
    {
        if (!metadata.TryGetValue(key, out string? text)) throw new InvalidDataException(missingMessage);
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

    /// <summary>
    /// Throws unless a run with <paramref name="model"/> and <paramref name="training"/> can resume a checkpoint made
    /// with <paramref name="savedModel"/> and <paramref name="savedTraining"/>: the same model config, and the same batch
    /// size, accumulation and seed (which fix the data order and random streams).
    /// </summary>
    /// <param name="readHeader">The call that reads the checkpoint's header, named in the message.</param>
    /// <exception cref="InvalidDataException">A setting differs; the message names it.</exception>
    public static void CheckResumable<TModel>(string path, TModel model, TModel savedModel, TrainingConfig training,
        TrainingConfig savedTraining, string readHeader)
    {
        IReadOnlyList<string> differences = Differences(model, savedModel, "this run", "checkpoint");
        if (differences.Count > 0)
            throw new InvalidDataException($"'{path}' holds another model than this run builds: {string.Join("; ", differences)}. " +
                $"Build the model from the checkpoint's config ({readHeader}) to resume it.");
        var mismatches = new List<string>();
        if (savedTraining.BatchSize != training.BatchSize)
            mismatches.Add($"{nameof(TrainingConfig.BatchSize)}: this run {training.BatchSize}, checkpoint {savedTraining.BatchSize}");
        if (savedTraining.GradientAccumulationSteps != training.GradientAccumulationSteps)
            mismatches.Add($"{nameof(TrainingConfig.GradientAccumulationSteps)}: " +
                $"this run {training.GradientAccumulationSteps}, checkpoint {savedTraining.GradientAccumulationSteps}");
        if (savedTraining.Seed != training.Seed)
            mismatches.Add($"{nameof(TrainingConfig.Seed)}: this run {training.Seed}, checkpoint {savedTraining.Seed}");
        if (mismatches.Count > 0)
            throw new InvalidDataException($"'{path}' was trained with other settings that fix the data order and random streams: " +
                $"{string.Join("; ", mismatches)}. Resume with the checkpoint's settings.");
    }
}
