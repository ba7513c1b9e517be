using System.Globalization;
using System.Text.Json;

namespace IlgpuDiffusion.Training;

/// <summary>
/// Writes training and validation metrics twice: a human line (llm.c style) to a text writer, and one JSON
/// object per line to a file for tools (<c>{"kind":"train","step":..,"loss":..}</c>). The JSON file is
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

    /// <summary>Logs one training interval.</summary>
    public void Write(TrainingMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        string mfu = metrics.ModelFlopsUtilization is double u ? $" | MFU {u * 100:F1}%" : "";
        human?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"step {StepText(metrics.Step)} | loss {metrics.Loss:F4} | norm {metrics.GradientNorm:F4} | lr {metrics.LearningRate:0.00e+00} | " +
            $"{metrics.MillisecondsPerStep:F1} ms | {metrics.TokensPerSecond:N0} tok/s{mfu}"));
        WriteJson("train", metrics.Step, writer =>
        {
            writer.WriteNumber("loss", metrics.Loss);
            writer.WriteNumber("gradNorm", metrics.GradientNorm);
            writer.WriteNumber("lr", metrics.LearningRate);
            writer.WriteNumber("msPerStep", metrics.MillisecondsPerStep);
            writer.WriteNumber("tokensPerSecond", metrics.TokensPerSecond);
            if (metrics.ModelFlopsUtilization is double u) writer.WriteNumber("mfu", u);
        });
    }

    /// <summary>Logs one validation pass.</summary>
    public void Write(ValidationMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        human?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"step {StepText(metrics.Step)} | validation NELBO {metrics.Nelbo:F4} | PPL ≤ {metrics.Perplexity:F2} | " +
            $"{metrics.BitsPerToken:F4} bits/token | {metrics.Tokens:N0} tokens in {metrics.Seconds:F1} s"));
        WriteJson("validation", metrics.Step, writer =>
        {
            writer.WriteNumber("nelbo", metrics.Nelbo);
            writer.WriteNumber("perplexity", metrics.Perplexity);
            writer.WriteNumber("bitsPerToken", metrics.BitsPerToken);
            writer.WriteNumber("tokens", metrics.Tokens);
            writer.WriteNumber("seconds", metrics.Seconds);
        });
    }

    /// <summary>Logs a record that formats itself.</summary>
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
