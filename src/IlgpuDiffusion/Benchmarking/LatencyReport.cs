using System.Globalization;
using System.Text;

namespace IlgpuDiffusion.Benchmarking;

/// <summary>The rows of one <see cref="LatencyComparison"/> (B, L and device fixed), with the ratio the paper reports.</summary>
/// <param name="Device">The device both models ran on.</param>
/// <param name="DiffusionParameters">Trainable parameters of the diffusion model.</param>
/// <param name="AutoregressiveParameters">Trainable parameters of the autoregressive model.</param>
/// <param name="BatchSize">Sequences per generation (B).</param>
/// <param name="Length">Tokens per sequence (L).</param>
/// <param name="Measurements">The autoregressive row, then the diffusion rows in the order of the step counts.</param>
public sealed record LatencyReport(string Device, long DiffusionParameters, long AutoregressiveParameters, int BatchSize, int Length,
    IReadOnlyList<LatencyMeasurement> Measurements)
{
    /// <summary>The autoregressive row.</summary>
    public LatencyMeasurement Autoregressive => Measurements.First(m => m.IsAutoregressive);

    /// <summary>Autoregressive wall time over <paramref name="row"/>'s: above 1, diffusion is faster (the paper's "×" figures).</summary>
    public double ArOverThis(LatencyMeasurement row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return Autoregressive.Mean / row.Mean;
    }

    /// <summary>
    /// A heading line, then one table row per measurement: generator, N, cache, mean and fastest seconds, passes, tokens/s and AR / this.
    /// </summary>
    public string ToMarkdown()
    {
        var culture = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(culture, $"B = {BatchSize}, L = {Length} on {Device}; " +
            $"diffusion {DiffusionParameters / 1e6:F2}M parameters, autoregressive {AutoregressiveParameters / 1e6:F2}M.\n\n");
        text.Append("| Generator | Steps | Cache | Mean (s) | Fastest (s) | Passes | Tokens/s | AR / this |\n");
        text.Append("|---|---:|---|---:|---:|---:|---:|---:|\n");
        foreach (var row in Measurements)
        {
            string steps = row.Steps?.ToString(culture) ?? "—";
            string cache = row.Cached switch { true => "cached", false => "uncached", null => "KV" };
            text.Append(culture, $"| {row.Generator} | {steps} | {cache} | {row.Mean.TotalSeconds:F3} | {row.Fastest.TotalSeconds:F3} " +
                $"| {row.ForwardPasses} | {row.TokensPerSecond:N0} | {ArOverThis(row):F2}× |\n");
        }
        return text.ToString();
    }
}
