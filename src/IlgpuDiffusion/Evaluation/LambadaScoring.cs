using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// The model-independent parts of LAMBADA scoring (docs/algorithms.md §5.5): the diffusion input with the word masked, the
/// exact-match rule, and the aggregation into accuracy and perplexities.
/// </summary>
internal static class LambadaScoring
{
    /// <summary>
    /// The diffusion model's input: the context, MASK at every word token, and the final EOS left visible.
    /// One forward pass then predicts positions <see cref="LambadaExample.WordStart"/> .. + <see cref="LambadaExample.WordLength"/>.
    /// </summary>
    /// <param name="maskId">The model's MASK id (<see cref="Gpt2Tokenizer.Mask"/> for the GPT-2 vocabulary).</param>
    public static int[] MaskedInput(LambadaExample example, int maskId = Gpt2Tokenizer.Mask)
    {
        ArgumentNullException.ThrowIfNull(example);
        int[] input = example.Sequence();
        input.AsSpan(example.WordStart, example.WordLength).Fill(maskId);
        return input;
    }

    /// <summary>
    /// True when every predicted word token equals the target's (greedy argmax over the 50,257 GPT-2 ids for a
    /// diffusion model; the teacher-forced argmax at each word position for an autoregressive one).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="predictedWordIds"/> does not hold one id per word token.</exception>
    public static bool IsExactMatch(ReadOnlySpan<int> predictedWordIds, LambadaExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        if (predictedWordIds.Length != example.WordLength)
            throw new ArgumentException($"Expected one prediction per word token ({example.WordLength}), got {predictedWordIds.Length}.",
                nameof(predictedWordIds));
        return predictedWordIds.SequenceEqual(example.WordIds);
    }

    /// <summary>
    /// Accuracy and perplexities over scored examples. The word perplexity is SDTT's: exp of the mean over examples
    /// of the summed word NLL (one number per word, however many tokens it has); the token perplexity divides the
    /// total NLL by the total number of word tokens (docs/algorithms.md §5.5 and appendix #8 report the word perplexity).
    /// </summary>
    /// <exception cref="ArgumentException">No outcome, a word without tokens, or a negative or non-finite NLL.</exception>
    public static LambadaResult Summarize(IReadOnlyList<LambadaOutcome> outcomes)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        if (outcomes.Count == 0) throw new ArgumentException("LAMBADA needs at least one scored example.", nameof(outcomes));
        int correct = 0;
        long tokens = 0;
        double nll = 0;
        for (int i = 0; i < outcomes.Count; i++)
        {
            LambadaOutcome outcome = outcomes[i];
            if (outcome.WordTokens < 1)
                throw new ArgumentException($"Outcome {i} has {outcome.WordTokens} word tokens; a word has at least one.",
                    nameof(outcomes));
            if (!(outcome.WordNll >= 0) || double.IsInfinity(outcome.WordNll))
                throw new ArgumentException($"Outcome {i} has word NLL {outcome.WordNll}; an NLL is finite and non-negative.",
                    nameof(outcomes));
            if (outcome.Correct) correct++;
            tokens += outcome.WordTokens;
            nll += outcome.WordNll;
        }
        return new LambadaResult(outcomes.Count, (double)correct / outcomes.Count, Math.Exp(nll / outcomes.Count), Math.Exp(nll / tokens));
    }
}
