namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// An autoregressive judge as generative perplexity needs it: the log-likelihood of every next token of a batch of
/// sequences under teacher forcing. Implemented by the library's AR model or by imported GPT-2 weights; tests use
/// hand-written tables.
/// </summary>
public interface ITokenScorer
{
    /// <summary>Longest sequence the judge scores in one pass (its context length, 1024 for GPT-2).</summary>
    int MaxLength { get; }

    /// <summary>
    /// Writes log p(x[b, i + 1] | x[b, 0..i]) in nats to <c>logLikelihoods[b, i]</c> for every sequence b and position
    /// i &lt; <paramref name="length"/> − 1.
    /// </summary>
    /// <param name="ids">[batch, length] token ids in the judge's vocabulary, row-major.</param>
    /// <param name="logLikelihoods">[batch, length − 1] output, row-major.</param>
    void ScoreNextTokens(ReadOnlySpan<int> ids, int batch, int length, Span<float> logLikelihoods);
}
