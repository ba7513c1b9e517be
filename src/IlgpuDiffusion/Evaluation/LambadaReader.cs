using System.Text.Json;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Reads LAMBADA in the format of <c>lambada_test.jsonl</c> (EleutherAI/lambada_openai: one
/// <c>{"text": "..."}</c> object per line, 5153 lines in the test split) and splits each text at its last space.
/// </summary>
public static class LambadaReader
{
    /// <summary>The passages of <paramref name="path"/> in file order; blank lines are skipped.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is not a JSON object with a string field "text" that splits at a last
    /// space, or is not valid UTF-8 (the message names the file and line), or the file holds no passage.</exception>
    public static IReadOnlyList<LambadaPassage> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"LAMBADA file {path} does not exist. " +
                "Download lambada_test.jsonl (EleutherAI/lambada_openai) and pass its path.", path);
        var passages = new List<LambadaPassage>();
        foreach ((long number, string line) in Utf8LineReader.Read(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            string text = ParseText(line, path, number);
            try
            {
                passages.Add(LambadaPassage.Split(text));
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"{path}, line {number}: {e.Message}", e);
            }
        }
        if (passages.Count == 0) throw new InvalidDataException($"{path} holds no LAMBADA passage (every line is blank).");
        return passages;
    }

    private static string ParseText(string line, string path, long number)
    {
        try
        {
            using JsonDocument json = JsonDocument.Parse(line);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}, line {number}: " +
                    $"expected a JSON object such as {{\"text\": \"...\"}}, found {json.RootElement.ValueKind}.");
            if (!json.RootElement.TryGetProperty("text", out JsonElement value))
                throw new InvalidDataException($"{path}, line {number}: the object has no field \"text\".");
            if (value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{path}, line {number}: field \"text\" is {value.ValueKind}, not a string.");
            return value.GetString()!;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}, line {number}: not valid JSON ({e.Message}).", e);
        }
    }
}
