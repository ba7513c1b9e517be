using System.Text.Json;
using System.Text.Json.Nodes;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Reading a Hugging Face <c>config.json</c>, whatever the model: the file's errors name the file, typed values name
/// their key, a missing required key or a value of the wrong type is an <see cref="InvalidDataException"/>, and a
/// config the model refuses is reported as an invalid model.
/// </summary>
internal static class ConfigJson
{
    /// <summary>Reads <paramref name="path"/> and maps its text with <paramref name="parse"/>; errors name the file.</summary>
    public static T Read<T>(string path, Func<string, T> parse)
    {
        try
        {
            return parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"'{path}': {e.Message}", e);
        }
    }

    /// <summary>
    /// The root object of <paramref name="json"/>; a key given twice in one object is a <see cref="JsonException"/>, and a
    /// string whose escapes decode to no valid text (a lone surrogate) an <see cref="InvalidDataException"/>.
    /// </summary>
    public static JsonObject Root(string json)
    {
        var options = new JsonDocumentOptions { AllowDuplicateProperties = false };
        try
        {
            using var document = JsonDocument.Parse(json, options); // decodes the keys to compare them
            CheckText(document.RootElement);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"The model config holds a string that is not valid text: {e.Message}", e);
        }
        return JsonNode.Parse(json, documentOptions: options) as JsonObject
            ?? throw new InvalidDataException("The model config is not a JSON object.");
    }

    /// <summary>Runs the config's own validation, reporting its refusal as an invalid model config.</summary>
    public static T Validated<T>(Func<T> validate)
    {
        try
        {
            return validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The model config describes an invalid model: {e.Message}", e);
        }
    }

    /// <summary>
    /// The integer <paramref name="node"/> (read under <paramref name="key"/>), or <paramref name="fallback"/> when absent.
    /// </summary>
    public static int Int(JsonNode? node, string key, int? fallback)
    {
        double value = Number(node, key, fallback);
        if (value != Math.Floor(value) || value < int.MinValue || value > int.MaxValue)
            throw new InvalidDataException($"Config value '{key}' must be an integer; got {value}.");
        return (int)value;
    }

    /// <summary>
    /// The number <paramref name="node"/> (read under <paramref name="key"/>), or <paramref name="fallback"/> when absent.
    /// </summary>
    public static double Number(JsonNode? node, string key, double? fallback)
    {
        if (node is null) return fallback ?? throw new InvalidDataException($"The model config has no '{key}'.");
        return node is JsonValue value && value.TryGetValue(out double number)
            ? number
            : throw new InvalidDataException($"Config value '{key}' must be a number; got {node.ToJsonString()}.");
    }

    /// <summary>The flag <paramref name="node"/> (read under <paramref name="key"/>), or <paramref name="fallback"/> when absent.</summary>
    public static bool Bool(JsonNode? node, string key, bool fallback)
    {
        if (node is null) return fallback;
        return node is JsonValue value && value.TryGetValue(out bool flag)
            ? flag
            : throw new InvalidDataException($"Config value '{key}' must be true or false; got {node.ToJsonString()}.");
    }

    /// <summary>
    /// The string <paramref name="node"/> (read under <paramref name="key"/>), or <paramref name="fallback"/> when absent.
    /// </summary>
    public static string String(JsonNode? node, string key, string fallback)
    {
        if (node is null) return fallback;
        return node is JsonValue value && value.TryGetValue(out string? text)
            ? text
            : throw new InvalidDataException($"Config value '{key}' must be a string; got {node.ToJsonString()}.");
    }

    /// <summary>Decodes every key and string below <paramref name="element"/>, which throws on text that is not valid.</summary>
    private static void CheckText(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.String) _ = element.GetString();
        else if (element.ValueKind == JsonValueKind.Array)
            foreach (var item in element.EnumerateArray()) CheckText(item);
        else if (element.ValueKind == JsonValueKind.Object)
            foreach (var property in element.EnumerateObject())
            {
                _ = property.Name;
                CheckText(property.Value);
            }
    }

    /// <summary>The indented JSON text of <paramref name="root"/>.</summary>
    public static string Format(JsonObject root) => root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}
