using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Sampling;

/// <summary>
/// Positions whose tokens are given rather than sampled: a prompt prefix, or any set of fixed positions for
/// infilling (e.g. prefix + suffix). The sampler starts from these tokens and never changes them, which is the same
/// as re-imposing them after every step (SDTT's <c>project_fn</c>).
/// </summary>
public sealed class SamplingPrompt
{
    /// <summary>Per sequence (one entry for all sequences), the fixed (position, token) pairs.</summary>
    private readonly IReadOnlyList<(int Position, int Token)>[] _perSequence;

    private SamplingPrompt(IReadOnlyList<(int Position, int Token)>[] perSequence) => _perSequence = perSequence;

    /// <summary>The same prompt <paramref name="tokens"/> at positions 0.. of every sequence.</summary>
    public static SamplingPrompt Prefix(ReadOnlySpan<int> tokens) => new([AsPrefix(tokens)]);

    /// <summary>One prompt prefix per sequence of the batch (the batch size must equal their count).</summary>
    public static SamplingPrompt Prefixes(IReadOnlyList<int[]> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("Give at least one prompt.", nameof(prompts));
        return new(prompts.Select(p => AsPrefix(p)).ToArray());
    }

    /// <summary>The same fixed tokens (position → token) in every sequence.</summary>
    public static SamplingPrompt Infill(IReadOnlyDictionary<int, int> fixedTokens)
    {
        ArgumentNullException.ThrowIfNull(fixedTokens);
        return new([fixedTokens.Select(pair => (pair.Key, pair.Value)).OrderBy(pair => pair.Key).ToArray()]);
    }

    /// <summary>
    /// The fixed positions of <paramref name="prefix"/> and <paramref name="suffix"/> text, encoded by <paramref name="tokenizer"/>,
    /// in a sequence of <paramref name="length"/> tokens, framed as the model saw its training data ([BOS] text [EOS]): the
    /// prefix follows BOS at position 0, the suffix ends just before EOS at the last position. Null when neither is given.
    /// </summary>
    /// <exception cref="ArgumentException">The texts leave no position to sample.</exception>
    public static SamplingPrompt? FromText(Tokenizer tokenizer, string? prefix, string? suffix, int length)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return Framed(FramedStart(tokenizer, prefix), FramedEnd(tokenizer, suffix), length);
    }

    /// <summary>[BOS] followed by the ids of <paramref name="prefix"/>; empty when there is no prefix.</summary>
    internal static int[] FramedStart(Tokenizer tokenizer, string? prefix) =>
        string.IsNullOrEmpty(prefix) ? [] : [tokenizer.Bos, .. tokenizer.Encode(prefix)];

    /// <summary>The ids of <paramref name="suffix"/> followed by [EOS]; empty when there is no suffix.</summary>
    internal static int[] FramedEnd(Tokenizer tokenizer, string? suffix) =>
        string.IsNullOrEmpty(suffix) ? [] : [.. tokenizer.Encode(suffix), tokenizer.Eos];

    /// <summary>
    /// <see cref="FromText"/> for ids already framed by <see cref="FramedStart"/> and <see cref="FramedEnd"/>; null when both
    /// are empty.
    /// </summary>
    /// <exception cref="ArgumentException">The ids leave no position to sample.</exception>
    internal static SamplingPrompt? Framed(int[] start, int[] end, int length)
    {
        if (start.Length == 0 && end.Length == 0) return null;
        if (start.Length + end.Length >= length)
            throw new ArgumentException($"The prompt takes {start.Length + end.Length} tokens (BOS/EOS included); a sequence of {length} " +
                "tokens leaves none to sample. Shorten the prompt or raise the length.");
        if (end.Length == 0) return Prefix(start);
        var fixedTokens = new Dictionary<int, int>();
        for (int i = 0; i < start.Length; i++) fixedTokens[i] = start[i];
        for (int i = 0; i < end.Length; i++) fixedTokens[length - end.Length + i] = end[i];
        return Infill(fixedTokens);
    }

    /// <summary>
    /// The fixed tokens of several prompts in one batch: each prompt (shared by its sequences; null: none fixed) repeated
    /// for its <c>Sequences</c> rows, in order.
    /// </summary>
    /// <exception cref="ArgumentException">A prompt is already per-sequence, or no sequence is given.</exception>
    internal static SamplingPrompt Concat(IReadOnlyList<(SamplingPrompt? Prompt, int Sequences)> parts)
    {
        var perSequence = new List<IReadOnlyList<(int Position, int Token)>>();
        foreach (var (prompt, sequences) in parts)
        {
            if (prompt is not null && prompt.Sequences != 1)
                throw new ArgumentException("Only prompts shared by all their sequences can be concatenated.", nameof(parts));
            for (int i = 0; i < sequences; i++) perSequence.Add(prompt?._perSequence[0] ?? []);
        }
        if (perSequence.Count == 0) throw new ArgumentException("Give at least one sequence.", nameof(parts));
        return new(perSequence.ToArray());
    }

    /// <summary>Sets of fixed positions: one per sequence, or 1 when shared by the batch.</summary>
    public int Sequences => _perSequence.Length;

    /// <summary>Writes the fixed token of every position of a [batch, length] block, or −1 where the sampler is free.</summary>
    /// <exception cref="ArgumentException">A position lies outside the sequence, a token outside [0, maskId), or the
    /// batch does not match per-sequence prompts.</exception>
    internal void Write(Span<int> fixedIds, int batch, int length, int maskId)
    {
        if (_perSequence.Length != 1 && _perSequence.Length != batch)
            throw new ArgumentException($"The prompt holds {_perSequence.Length} per-sequence prompts; the batch has {batch} sequences.");
        fixedIds.Fill(-1);
        for (int b = 0; b < batch; b++)
            foreach (var (position, token) in _perSequence[_perSequence.Length == 1 ? 0 : b])
            {
                if (position < 0 || position >= length)
                    throw new ArgumentException($"A prompt fixes position {position}; sequences hold positions 0..{length - 1}.");
                if (token < 0 || token >= maskId)
                    throw new ArgumentException($"A prompt token {token} at position {position} is not a text token id in [0, {maskId}).");
                fixedIds[b * length + position] = token;
            }
    }

    private static (int, int)[] AsPrefix(ReadOnlySpan<int> tokens)
    {
        var pairs = new (int, int)[tokens.Length];
        for (int i = 0; i < tokens.Length; i++) pairs[i] = (i, tokens[i]);
        return pairs;
    }
}
