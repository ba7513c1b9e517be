using System.Text.Json;

namespace IlgpuDiffusion.Training;

/// <summary>How metrics records write numbers that may be NaN or infinite (a diverged loss, an infinite perplexity).</summary>
public static class MetricsJson
{
    /// <summary>
    /// Writes <paramref name="value"/> as a JSON number when finite, else as the string <c>"NaN"</c>, <c>"Infinity"</c> or
    /// <c>"-Infinity"</c>, which System.Text.Json reads back with <c>JsonNumberHandling.AllowNamedFloatingPointLiterals</c>
    /// (JSON has no number for them).
    /// </summary>
    public static void WriteMetric(this Utf8JsonWriter writer, string name, double value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (double.IsFinite(value)) writer.WriteNumber(name, value);
        else writer.WriteString(name, double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }
}
