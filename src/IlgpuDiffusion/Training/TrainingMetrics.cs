namespace IlgpuDiffusion.Training;

/// <summary>Averages over one log interval of optimizer steps.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="Loss">Mean training loss (NELBO per token slot) of the interval's steps.</param>
/// <param name="GradientNorm">Global gradient L2 norm (before clipping) of the last step.</param>
/// <param name="LearningRate">Learning rate of the last step.</param>
/// <param name="MillisecondsPerStep">Wall time per optimizer step.</param>
/// <param name="TokensPerSecond">Token slots (B·L·accumulation per step) processed per second.</param>
/// <param name="ModelFlopsUtilization">Achieved model FLOP/s over the configured peak; null when no peak is configured.</param>
public sealed record TrainingMetrics(long Step, double Loss, double GradientNorm, double LearningRate,
    double MillisecondsPerStep, double TokensPerSecond, double? ModelFlopsUtilization);

/// <summary>One validation pass.</summary>
/// <param name="Step">Optimizer steps done when validating.</param>
/// <param name="Nelbo">Mean NELBO per token over the validation tokens (nats).</param>
/// <param name="Perplexity">exp(<paramref name="Nelbo"/>): an upper bound on the perplexity.</param>
/// <param name="Tokens">Validation tokens evaluated.</param>
/// <param name="Seconds">Wall time of the pass.</param>
public sealed record ValidationMetrics(long Step, double Nelbo, double Perplexity, long Tokens, double Seconds)
{
    /// <summary>Bits per dimension: NELBO / ln 2.</summary>
    public double BitsPerToken => Nelbo / Math.Log(2);
}
