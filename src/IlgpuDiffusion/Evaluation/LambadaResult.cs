namespace IlgpuDiffusion.Evaluation;

/// <summary>How a model did on one LAMBADA example.</summary>
/// <param name="Correct">Every token of the last word was predicted exactly (<see cref="LambadaScoring.IsExactMatch"/>).</param>
/// <param name="WordNll">Negative log-likelihood of the whole word in nats, summed over its tokens (for a diffusion
/// model, the ELBO bound averaged over the time draws), EOS excluded.</param>
/// <param name="WordTokens">Number of tokens of the word (<see cref="LambadaExample.WordLength"/>).</param>
public readonly record struct LambadaOutcome(bool Correct, double WordNll, int WordTokens);

/// <summary>LAMBADA (or LAMBADA-style cloze) results of one model.</summary>
/// <param name="Examples">Number of examples scored.</param>
/// <param name="Accuracy">Share of examples whose word was predicted exactly, in [0, 1].</param>
/// <param name="WordPerplexity">exp(mean over examples of the word NLL): SDTT's per-word (ELBO) perplexity.</param>
/// <param name="TokenPerplexity">exp(total word NLL / total word tokens): the per-token perplexity.</param>
public sealed record LambadaResult(int Examples, double Accuracy, double WordPerplexity, double TokenPerplexity);
