using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Sampling;

/// <summary>
/// How <see cref="GptDecoder"/> draws each next token: logits / temperature, then top-k, then top-p (the order of
/// Hugging Face's warpers), then a categorical draw by the fp64 exponential race; temperature 0 is greedy (argmax).
/// Draw number p of sequence b uses the Philox stream (seed, p) at indices b·V + v, so a seed fixes the samples.
/// </summary>
public sealed record GptSamplingOptions
{
    /// <summary>Logits are divided by it; 0 takes the most likely token (greedy decoding, where top-k and top-p change nothing).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the k most likely tokens (ties at the k-th kept); 0 turns top-k off.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus mass in (0, 1]: keep the smallest set of most likely tokens holding it; 1 turns top-p off.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>The token that ends a sequence (GPT-2's <c>&lt;|endoftext|&gt;</c> 50256); null to always decode to the length.</summary>
    public int? EndOfText { get; init; }

    /// <summary>How each draw turns random numbers into ids: the inverse CDF (default) or the exponential race.</summary>
    public CategoricalDraw Draw { get; init; } = CategoricalDraw.InverseCdf;

    /// <summary>Seed of the draws.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws when a setting is out of range for a model of <paramref name="vocab"/> tokens, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is invalid.</exception>
    public GptSamplingOptions Validate(int vocab)
    {
        if (!(Temperature >= 0f && float.IsFinite(Temperature)))
            throw new ArgumentOutOfRangeException(nameof(Temperature),
                $"Temperature must be finite and ≥ 0 (0: greedy); got {Temperature}.");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), $"TopK must be ≥ 0 (0: off); got {TopK}.");
        if (!(TopP > 0f && TopP <= 1f))
            throw new ArgumentOutOfRangeException(nameof(TopP), $"TopP must be in (0, 1] (1: off); got {TopP}.");
        if (!Enum.IsDefined(Draw))
            throw new ArgumentOutOfRangeException(nameof(Draw), $"{(int)Draw} is not a categorical draw method.");
        if (EndOfText is int eos && (eos < 0 || eos >= vocab))
            throw new ArgumentOutOfRangeException(nameof(EndOfText), $"The end-of-text token {eos} is outside the model's {vocab} tokens.");
        return this;
    }
}
