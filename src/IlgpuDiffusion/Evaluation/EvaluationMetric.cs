using System.Globalization;

namespace IlgpuDiffusion.Evaluation;

/// <summary>One number of a report cell: a named value, with its standard deviation when it is a mean over seeds.</summary>
/// <param name="Name">Column header, e.g. <c>"Gen PPL (MDLM)"</c>.</param>
/// <param name="Value">The value (a mean when <paramref name="StandardDeviation"/> is set).</param>
/// <param name="StandardDeviation">Spread over seeds, or null for a single measurement.</param>
public sealed record EvaluationMetric(string Name, double Value, double? StandardDeviation = null)
{
    /// <summary>
    /// The value for a table: 0 decimals from 1000 up, 1 from 100, 2 from 1, else 3; the deviation with as many
    /// decimals after " ± ". Invariant culture.
    /// </summary>
    public string Format()
    {
        double magnitude = Math.Abs(Value);
        string format = magnitude >= 1000 ? "F0" : magnitude >= 100 ? "F1" : magnitude >= 1 ? "F2" : "F3";
        string value = Value.ToString(format, CultureInfo.InvariantCulture);
        return StandardDeviation is double deviation ? $"{value} ± {deviation.ToString(format, CultureInfo.InvariantCulture)}" : value;
    }
}
