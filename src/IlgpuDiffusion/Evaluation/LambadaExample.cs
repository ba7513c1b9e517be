using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// A LAMBADA passage in token ids (GPT-2's in SDTT) as SDTT's <c>eval_lambada</c> feeds it (docs/algorithms.md §5.5): the context is
/// [BOS] + context tokens, the target is the tokens of " word" + [EOS]. The two parts are tokenized separately.
/// </summary>
/// <param name="ContextIds">[BOS] followed by the tokens of <see cref="LambadaPassage.Context"/>.</param>
/// <param name="TargetIds">The tokens of <see cref="LambadaPassage.Target"/> followed by [EOS].</param>
public sealed record LambadaExample(int[] ContextIds, int[] TargetIds)
{
    /// <summary>Number of tokens of the last word (the target without its final EOS).</summary>
    public int WordLength => TargetIds.Length - 1;

    /// <summary>Position of the first word token in <see cref="Sequence"/> (= the context length).</summary>
    public int WordStart => ContextIds.Length;

    /// <summary>The tokens of the last word (the target without its final EOS).</summary>
    public ReadOnlySpan<int> WordIds => TargetIds.AsSpan(0, WordLength);

    /// <summary>
    /// Context then target: the clean diffusion input, and the teacher-forcing input of an autoregressive model, whose
    /// output at position <see cref="WordStart"/> − 1 + k predicts word token k.
    /// </summary>
    public int[] Sequence() => [.. ContextIds, .. TargetIds];

    /// <summary>
    /// This example shortened to at most <paramref name="maxLength"/> tokens for a model with that context: the oldest
    /// context tokens after BOS are dropped, BOS and the target stay. Returns this example when it fits.
    /// </summary>
    /// <exception cref="ArgumentException">Not even BOS and the target fit.</exception>
    public LambadaExample TruncatedTo(int maxLength)
    {
        int excess = ContextIds.Length + TargetIds.Length - maxLength;
        if (excess <= 0) return this;
        if (TargetIds.Length + 1 > maxLength)
            throw new ArgumentException($"The target needs {TargetIds.Length} tokens plus BOS; the model's context holds {maxLength}.",
                nameof(maxLength));
        return new LambadaExample([ContextIds[0], .. ContextIds.AsSpan(1 + excess)], TargetIds);
    }

    /// <summary>
    /// Tokenizes <paramref name="passage"/> with <paramref name="tokenizer"/> (the models' tokenizer; GPT-2's by default),
    /// framed by its BOS and EOS.
    /// </summary>
    /// <exception cref="ArgumentException">The target encodes to no token.</exception>
    public static LambadaExample Tokenize(LambadaPassage passage, Tokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(passage);
        tokenizer ??= Gpt2Tokenizer.Shared;
        int[] word = tokenizer.Encode(passage.Target);
        if (word.Length == 0) throw new ArgumentException($"The target \"{passage.Target}\" encodes to no token.", nameof(passage));
        return new LambadaExample([tokenizer.Bos, .. tokenizer.Encode(passage.Context)], [.. word, tokenizer.Eos]);
    }
}
