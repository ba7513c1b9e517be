using System.Text;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Renders an <see cref="EvaluationReport"/> as Markdown: a heading, one table (rows = model × steps, columns =
/// every metric name in order of first appearance; an empty cell where a row lacks a metric), then the notes.
/// </summary>
internal static class MarkdownReportTable
{
    /// <summary>The report as Markdown text.</summary>
    public static string Write(EvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var columns = new List<string>();
        foreach (EvaluationRow row in report.Rows)
        {
            foreach (EvaluationMetric metric in row.Metrics)
            {
                if (!columns.Contains(metric.Name)) columns.Add(metric.Name);
            }
        }
        var text = new StringBuilder();
        text.Append("## ").Append(Escape(report.Title)).Append("\n\n");
        text.Append("| Model | Steps |");
        foreach (string column in columns) text.Append(' ').Append(Escape(column)).Append(" |");
        text.Append("\n|---|---:|");
        foreach (string _ in columns) text.Append("---:|");
        text.Append('\n');
        foreach (EvaluationRow row in report.Rows)
        {
            text.Append("| ").Append(Escape(row.Model)).Append(" | ").Append(row.Steps?.ToString() ?? "—").Append(" |");
            foreach (string column in columns)
            {
                EvaluationMetric? metric = row.Metrics.FirstOrDefault(m => m.Name == column);
                text.Append(' ').Append(metric?.Format() ?? "").Append(" |");
            }
            text.Append('\n');
        }
        if (report.Notes.Count > 0)
        {
            text.Append('\n');
            foreach (string note in report.Notes) text.Append("- ").Append(note.Replace("\r", "").Replace('\n', ' ')).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>A cell text that cannot break the table: pipes escaped, line breaks as spaces.</summary>
    private static string Escape(string cell) => cell.Replace("|", "\\|").Replace("\r", "").Replace('\n', ' ');
}
