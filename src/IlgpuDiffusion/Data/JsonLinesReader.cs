using System.Text.Json;

namespace IlgpuDiffusion.Data;

/// <summary>Reads documents from a JSON-lines file: one JSON object per line, the text in a named string field.</summary>
internal static class JsonLinesReader
{
    /// <summary>
    /// The documents of <paramref name="path"/>, one per non-blank line, taken from the string field
    /// <paramref name="textField"/>. Empty texts are skipped; a line without the field is an error.
    /// </summary>
    public static IEnumerable<CorpusDocument> Read(string path, string textField)
    {
        foreach ((long number, string line) in Utf8LineReader.Read(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            string text = ParseText(line, path, number, textField);
            if (text.Length > 0) yield return new CorpusDocument(path, text);
        }
    }

    private static string ParseText(string line, string path, long lineNumber, string textField)
    {
        try
        {
            using JsonDocument json = JsonDocument.Parse(line);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}, line {lineNumber}: expected a JSON object, found {json.RootElement.ValueKind}.");
            if (!json.RootElement.TryGetProperty(textField, out JsonElement value))
                throw new InvalidDataException($"{path}, line {lineNumber}: the object has no field \"{textField}\". " +
                    "Set the text field option to the field that holds the document text.");
            if (value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{path}, line {lineNumber}: field \"{textField}\" is {value.ValueKind}, not a string.");
            return value.GetString()!;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}, line {lineNumber}: not valid JSON ({e.Message}).", e);
        }
    }
}
