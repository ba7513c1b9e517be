using System.Text.Json.Serialization;

namespace IlgpuDiffusion.Evaluation;

/// <summary>Which definition of generative perplexity a number follows (docs/algorithms.md §5.1 and appendix #7).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<GenerativePerplexityConvention>))]
public enum GenerativePerplexityConvention
{
    /// <summary>SDTT: raw model ids, each sample's mean NLL over its next-token predictions, PPL = exp(mean over samples).</summary>
    SdttPerSampleMean,

    /// <summary>MDLM/DUO: decoded and retokenized samples, truncated to the judge's context, NLL weighted by token over
    /// non-EOS targets plus the first EOS, PPL = exp(Σ NLL / Σ tokens).</summary>
    MdlmTokenWeighted,
}

/// <summary>Generative perplexity of a set of samples under a judge, always with their mean unigram entropy.</summary>
/// <param name="Convention">The definition used.</param>
/// <param name="Perplexity">exp(<paramref name="MeanNll"/>).</param>
/// <param name="MeanNll">Mean NLL in nats per scored token, as the convention averages it.</param>
/// <param name="Samples">Number of samples.</param>
/// <param name="ScoredTokens">Number of next-token predictions that entered the mean.</param>
/// <param name="MeanUnigramEntropy">Mean unigram entropy (nats) of the raw samples (<see cref="UnigramEntropy.Mean"/>):
/// a low perplexity with a low entropy means repetitive text, not good text.</param>
/// <param name="MeanNllStandardError">Standard error of <paramref name="MeanNll"/> over the samples (the samples are
/// independent draws; the token-weighted mean is a ratio, its error taken by the delta method); NaN for one sample.</param>
public sealed record GenerativePerplexityResult(
    GenerativePerplexityConvention Convention,
    double Perplexity,
    double MeanNll,
    int Samples,
    long ScoredTokens,
    double MeanUnigramEntropy,
    double MeanNllStandardError)
{
    /// <summary>The normal quantile of a two-sided 95% interval.</summary>
    private const double Z95 = 1.959964;

    /// <summary>95% confidence interval of <see cref="Perplexity"/>: exp(mean NLL ± 1.96 standard errors).</summary>
    public (double Low, double High) ConfidenceInterval =>
        (Math.Exp(MeanNll - Z95 * MeanNllStandardError), Math.Exp(MeanNll + Z95 * MeanNllStandardError));
}
