using System.Buffers;
using System.Globalization;
using System.Text.Json;
using IlgpuDiffusion.Files;

namespace IlgpuDiffusion.Training;

/// <summary>
/// Writes metrics records (training intervals, validations, distillation rounds, ...) twice: a human line (llm.c
/// style) to a text writer, and one JSON object per line to a file for tools
/// (<c>{"kind":"train","step":..,"loss":..}</c>; NaN and infinities as named literals, see <see cref="MetricsJson"/>).
/// The JSON file is appended to, so a resumed run continues the same log; each line is built whole in memory, then
/// written and flushed at once, so a record that fails half-way leaves no partial line.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly TextWriter? _human;
    private readonly FileStream? _jsonFile;
    private readonly ArrayBufferWriter<byte> _line = new();
    private readonly Utf8JsonWriter _json;

    /// <summary>
    /// Logs to <paramref name="human"/> and/or the JSON-lines file <paramref name="jsonLinesPath"/> (either may be null).
    /// </summary>
    public MetricsLog(TextWriter? human, string? jsonLinesPath)
    {
        _human = human;
        _json = new Utf8JsonWriter(_line);
        if (jsonLinesPath is null) return;
        string? folder = Path.GetDirectoryName(Path.GetFullPath(jsonLinesPath));
        if (folder is not null) Directory.CreateDirectory(folder);
        _jsonFile = new FileStream(jsonLinesPath, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    /// <summary>
    /// Prepares the JSON-lines file <paramref name="path"/> for a run resumed at <paramref name="step"/>: removes the records
    /// of later steps (a run that crashed after its last checkpoint logged them, and the resumed run logs them again) and a
    /// torn last line (a run killed while writing). Rewrites the file atomically (<see cref="AtomicFile"/>); does nothing
    /// when the file does not exist or has nothing to remove.
    /// </summary>
    public static void DropRecordsAfter(string path, long step)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) return;
        string[] lines = File.ReadAllLines(path);
        string[] kept = lines.Where(line => RecordStep(line) is long recorded && recorded <= step).ToArray();
        if (kept.Length == lines.Length) return;
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(line => line + "\n")));
    }

    /// <summary>The <c>step</c> of a JSON record line, or null when the line is not a whole record.</summary>
    private static long? RecordStep(string line)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("step", out JsonElement step) && step.TryGetInt64(out long value)
                ? value
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Total optimizer steps of the run, shown as "step n/total" (0: not shown).</summary>
    public long TotalSteps { get; init; }

    /// <summary>Logs one record: its human line, and its JSON object with <c>kind</c> and <c>step</c> first.</summary>
    public void Write(IMetricsRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        _human?.WriteLine(record.HumanLine(StepText(record.Step)));
        WriteJson(record.Kind, record.Step, record.WriteFields);
    }

    private string StepText(long step) => TotalSteps > 0 ? $"{step}/{TotalSteps}" : step.ToString(CultureInfo.InvariantCulture);

    private void WriteJson(string kind, long step, Action<Utf8JsonWriter> fields)
    {
        if (_jsonFile is null) return;
        _line.ResetWrittenCount();
        _json.Reset();
        _json.WriteStartObject();
        _json.WriteString("kind", kind);
        _json.WriteNumber("step", step);
        fields(_json);
        _json.WriteEndObject();
        _json.Flush();
        _line.Write("\n"u8);
        _jsonFile.Write(_line.WrittenSpan);
        _jsonFile.Flush();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _json.Dispose();
        _jsonFile?.Dispose();
    }
}
