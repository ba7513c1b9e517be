using System.Globalization;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// One number of a report cell: a named value, with its standard deviation when it is a mean over seeds, or with a 95%
/// confidence interval when it is estimated from samples.
/// </summary>
/// <param name="Name">Column header, e.g. <c>"Gen PPL (MDLM)"</c>.</param>
/// <param name="Value">The value (a mean when <paramref name="StandardDeviation"/> is set).</param>
/// <param name="StandardDeviation">Spread over seeds, or null for a single measurement.</param>
public sealed record EvaluationMetric(string Name, double Value, double? StandardDeviation = null)
{
    /// <summary>Lower end of the value's 95% confidence interval, or null.</summary>
    public double? Low { get; init; }

    /// <summary>Upper end of the value's 95% confidence interval, or null.</summary>
    public double? High { get; init; }

    /// <summary>
    /// The value for a table: 0 decimals from 1000 up, 1 from 100, 2 from 1, else 3; the deviation with as many
    /// decimals after " ± ", or the confidence interval as " (low–high)". Invariant culture.
    /// </summary>
    public string Format()
    {
        double magnitude = Math.Abs(Value);
        string format = magnitude >= 1000 ? "F0" : magnitude >= 100 ? "F1" : magnitude >= 1 ? "F2" : "F3";
        string Text(double v) => v.ToString(format, CultureInfo.InvariantCulture);
        if (StandardDeviation is double deviation) return $"{Text(Value)} ± {Text(deviation)}";
        return Low is double low && High is double high ? $"{Text(Value)} ({Text(low)}–{Text(high)})" : Text(Value);
    }
}
