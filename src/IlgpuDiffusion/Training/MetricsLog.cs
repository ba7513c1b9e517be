using System.Globalization;
using System.Text.Json;

namespace IlgpuDiffusion.Training;

/// <summary>
/// Writes metrics records (training intervals, validations, distillation rounds, ...) twice: a human line (llm.c
/// style) to a text writer, and one JSON object per line to a file for tools (<c>{"kind":"train","step":..,"loss":..}</c>). The JSON file is
/// appended to, so a resumed run continues the same log; every line is flushed as written.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly TextWriter? human;
    private readonly FileStream? jsonFile;
    private readonly Utf8JsonWriter? json;

    /// <summary>Logs to <paramref name="human"/> and/or the JSON-lines file <paramref name="jsonLinesPath"/> (either may be null).</summary>
    public MetricsLog(TextWriter? human, string? jsonLinesPath)
    {
        this.human = human;
        if (jsonLinesPath is null) return;
        string? folder = Path.GetDirectoryName(Path.GetFullPath(jsonLinesPath));
        if (folder is not null) Directory.CreateDirectory(folder);
        jsonFile = new FileStream(jsonLinesPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        json = new Utf8JsonWriter(jsonFile);
    }

    /// <summary>Total optimizer steps of the run, shown as "step n/total" (0: not shown).</summary>
    public long TotalSteps { get; init; }

    /// <summary>Logs one record: its human line, and its JSON object with <c>kind</c> and <c>step</c> first.</summary>
    public void Write(IMetricsRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        human?.WriteLine(record.HumanLine(StepText(record.Step)));
        WriteJson(record.Kind, record.Step, record.WriteFields);
    }

    private string StepText(long step) => TotalSteps > 0 ? $"{step}/{TotalSteps}" : step.ToString(CultureInfo.InvariantCulture);

    private void WriteJson(string kind, long step, Action<Utf8JsonWriter> fields)
    {
        if (json is null) return;
        json.Reset();
        json.WriteStartObject();
        json.WriteString("kind", kind);
        json.WriteNumber("step", step);
        fields(json);
        json.WriteEndObject();
        json.Flush();
        jsonFile!.WriteByte((byte)'\n');
        jsonFile.Flush();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        json?.Dispose();
        jsonFile?.Dispose();
    }
}
