using System.Text.Json;
using System.Text.Json.Serialization;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>One curve read from a JSON-lines metrics log: a field of the records of one kind, by optimizer step.</summary>
/// <param name="Steps">The records' steps.</param>
/// <param name="Values">The field's values, one per step.</param>
internal sealed record MetricsSeries(double[] Steps, double[] Values)
{
    private static readonly JsonSerializerOptions NamedLiterals =
        new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Whether the log held no such record.</summary>
    public bool IsEmpty => Steps.Length == 0;

    /// <summary>The last value, or null when empty.</summary>
    public double? Last => IsEmpty ? null : Values[^1];

    /// <summary>
    /// The field <paramref name="field"/> of every record of kind <paramref name="kind"/> in <paramref name="path"/>
    /// (lines written by <see cref="Training.MetricsLog"/>); empty when the file does not exist. Records whose value is
    /// NaN or infinite (written as named literals, see <see cref="Training.MetricsJson"/>) are left out: a curve cannot
    /// show them.
    /// </summary>
    /// <exception cref="InvalidDataException">A line is not a JSON object with a step.</exception>
    public static MetricsSeries Read(string path, string kind, string field)
    {
        var steps = new List<double>();
        var values = new List<double>();
        if (!File.Exists(path)) return new MetricsSeries([], []);
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var json = JsonDocument.Parse(line);
                JsonElement root = json.RootElement;
                if (root.GetProperty("kind").GetString() != kind || !root.TryGetProperty(field, out JsonElement value)) continue;
                double reading = value.Deserialize<double>(NamedLiterals);
                if (!double.IsFinite(reading)) continue;
                steps.Add(root.GetProperty("step").GetDouble());
                values.Add(reading);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}, line {number}: not a metrics record ({e.Message}).", e);
            }
        }
        return new MetricsSeries([.. steps], [.. values]);
    }
}
