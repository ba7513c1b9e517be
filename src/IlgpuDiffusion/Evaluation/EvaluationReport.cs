using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuDiffusion.Files;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// The results of an evaluation: rows of model × steps with their metrics, plus notes that say what was measured
/// (judge, conventions, sample counts). Serialized as indented camelCase JSON; <see cref="MarkdownReportTable"/>
/// renders it for humans.
/// </summary>
/// <param name="Title">What the report compares.</param>
/// <param name="Rows">One row per model and step count.</param>
/// <param name="Notes">Free-text lines about the setup, shown under the table.</param>
public sealed record EvaluationReport(string Title, IReadOnlyList<EvaluationRow> Rows, IReadOnlyList<string> Notes)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN and ∞ are results too
    };

    /// <summary>The report as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The text is not a report.</exception>
    public static EvaluationReport FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            EvaluationReport? report = JsonSerializer.Deserialize<EvaluationReport>(json, Json);
            if (report?.Title is null || report.Rows is null || report.Notes is null)
                throw new InvalidDataException("The JSON is not an evaluation report (it needs title, rows and notes).");
            return report;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The JSON is not an evaluation report: {e.Message}", e);
        }
    }

    /// <summary>Writes the JSON to <paramref name="path"/> through a temporary file, so a reader never sees half a report.</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        AtomicFile.WriteAllText(path, ToJson());
    }

    /// <summary>Reads a report saved by <see cref="Save"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a report (the message names it).</exception>
    public static EvaluationReport Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Evaluation report {path} does not exist.", path);
        try
        {
            return FromJson(File.ReadAllText(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }
}
