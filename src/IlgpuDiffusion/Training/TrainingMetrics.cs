using System.Globalization;
using System.Text.Json;

namespace IlgpuDiffusion.Training;

/// <summary>Averages over one log interval of optimizer steps (JSON kind <c>train</c>).</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="Loss">Mean training loss of the interval's steps (the objective's: NELBO per token slot, next-token
/// cross-entropy, divergence).</param>
/// <param name="GradientNorm">Global gradient L2 norm (before clipping) of the last step.</param>
/// <param name="LearningRate">Learning rate of the last step.</param>
/// <param name="MillisecondsPerStep">Wall time per optimizer step.</param>
/// <param name="TokensPerSecond">Token slots (B·L·accumulation per step; next-token predictions for a GPT) processed per
/// second.</param>
/// <param name="ModelFlopsUtilization">Achieved model FLOP/s over the configured peak; null when no peak is configured.</param>
public sealed record TrainingMetrics(long Step, double Loss, double GradientNorm, double LearningRate,
    double MillisecondsPerStep, double TokensPerSecond, double? ModelFlopsUtilization) : IMetricsRecord
{
    /// <inheritdoc/>
    public string Kind => "train";

    /// <summary>
    /// A diffusion model's first-block attention entropy (nats) of the queries at MASK positions in the interval's last
    /// micro-batch (<see cref="Models.MaskedAttentionEntropy"/>): near 0 when they collapse onto one key; null when
    /// the trainer does not measure it.
    /// </summary>
    public double? MaskedAttentionEntropy { get; init; }

    /// <summary>
    /// In a data-parallel job, the wall time per step this rank spent adding the ranks' gradients and losses (waiting for slower
    /// ranks included): part of <see cref="MillisecondsPerStep"/> when summed after the backward pass, mostly hidden behind it
    /// when overlapped; null for one process.
    /// </summary>
    public double? SumMillisecondsPerStep { get; init; }

    /// <summary>The line's part after the step: loss, norm, lr, ms, tok/s and MFU.</summary>
    public string Summary
    {
        get
        {
            string mfu = ModelFlopsUtilization is double u ? string.Create(CultureInfo.InvariantCulture, $" | MFU {u * 100:F1}%") : "";
            string sum = SumMillisecondsPerStep is double ms ? string.Create(CultureInfo.InvariantCulture, $" (sum {ms:F1} ms)") : "";
            string entropy = MaskedAttentionEntropy is double h
                ? string.Create(CultureInfo.InvariantCulture, $" | mask attn H {h:F2}")
                : "";
            return string.Create(CultureInfo.InvariantCulture,
                $"loss {Loss:F4} | norm {GradientNorm:F4} | lr {LearningRate:0.00e+00} | " +
                $"{MillisecondsPerStep:F1} ms{sum} | {TokensPerSecond:N0} tok/s{mfu}{entropy}");
        }
    }

    /// <inheritdoc/>
    public string HumanLine(string stepText) => $"step {stepText} | {Summary}";

    /// <inheritdoc/>
    public void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteMetric("loss", Loss);
        writer.WriteMetric("gradNorm", GradientNorm);
        writer.WriteMetric("lr", LearningRate);
        writer.WriteMetric("msPerStep", MillisecondsPerStep);
        if (SumMillisecondsPerStep is double sum) writer.WriteMetric("sumMsPerStep", sum);
        writer.WriteMetric("tokensPerSecond", TokensPerSecond);
        if (ModelFlopsUtilization is double u) writer.WriteMetric("mfu", u);
        if (MaskedAttentionEntropy is double h) writer.WriteMetric("maskedAttentionEntropy", h);
    }
}

/// <summary>One validation pass (JSON kind <c>validation</c>).</summary>
/// <param name="Step">Optimizer steps done when validating.</param>
/// <param name="Nelbo">Mean validation loss per token (nats): the NELBO for a diffusion model, the exact cross-entropy for a GPT.</param>
/// <param name="Perplexity">exp(<paramref name="Nelbo"/>): an upper bound on the perplexity for a diffusion model.</param>
/// <param name="Tokens">Validation tokens evaluated.</param>
/// <param name="Seconds">Wall time of the pass.</param>
public sealed record ValidationMetrics(long Step, double Nelbo, double Perplexity, long Tokens, double Seconds) : IMetricsRecord
{
    /// <summary>
    /// Whether <see cref="Nelbo"/> is an exact negative log-likelihood (a GPT's) rather than a diffusion model's bound: the log
    /// line then says NLL and PPL =, and the JSON field is <c>nll</c> instead of <c>nelbo</c>.
    /// </summary>
    public bool ExactLikelihood { get; init; }

    /// <summary>Bits per dimension: NELBO / ln 2.</summary>
    public double BitsPerToken => Nelbo / Math.Log(2);

    /// <inheritdoc/>
    public string Kind => "validation";

    /// <inheritdoc/>
    public string HumanLine(string stepText) => string.Create(CultureInfo.InvariantCulture,
        $"step {stepText} | validation {(ExactLikelihood ? "NLL" : "NELBO")} {Nelbo:F4} | " +
        $"PPL {(ExactLikelihood ? "=" : "≤")} {Perplexity:F2} | {BitsPerToken:F4} bits/token | {Tokens:N0} tokens in {Seconds:F1} s");

    /// <inheritdoc/>
    public void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteMetric(ExactLikelihood ? "nll" : "nelbo", Nelbo);
        writer.WriteMetric("perplexity", Perplexity);
        writer.WriteMetric("bitsPerToken", BitsPerToken);
        writer.WriteNumber("tokens", Tokens);
        writer.WriteMetric("seconds", Seconds);
    }
}
