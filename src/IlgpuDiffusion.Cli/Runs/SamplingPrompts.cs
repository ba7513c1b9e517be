using IlgpuDiffusion.Data;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>
/// Turns prompt text into fixed positions the way the model saw its training data, in the model's tokenizer: sequences are
/// framed as [BOS] text [EOS], so a prefix is fixed after BOS at position 0, and a suffix ends just before EOS at the last
/// position.
/// </summary>
internal static class SamplingPrompts
{
    /// <summary>
    /// The fixed positions of <paramref name="prefix"/> and <paramref name="suffix"/>, encoded by <paramref name="tokenizer"/>, in a
    /// sequence of <paramref name="length"/>; null when neither is given.
    /// </summary>
    /// <exception cref="ArgumentException">The texts leave no position to sample.</exception>
    public static SamplingPrompt? Create(string? prefix, string? suffix, int length, Tokenizer tokenizer)
    {
        if (string.IsNullOrEmpty(prefix) && string.IsNullOrEmpty(suffix)) return null;
        int[] start = string.IsNullOrEmpty(prefix) ? [] : [tokenizer.Bos, .. tokenizer.Encode(prefix)];
        int[] end = string.IsNullOrEmpty(suffix) ? [] : [.. tokenizer.Encode(suffix), tokenizer.Eos];
        if (start.Length + end.Length >= length)
            throw new ArgumentException($"The prompt takes {start.Length + end.Length} tokens (BOS/EOS included); a sequence of {length} " +
                "tokens leaves none to sample. Shorten the prompt or raise --length.");
        if (end.Length == 0) return SamplingPrompt.Prefix(start);
        var fixedTokens = new Dictionary<int, int>();
        for (int i = 0; i < start.Length; i++) fixedTokens[i] = start[i];
        for (int i = 0; i < end.Length; i++) fixedTokens[length - end.Length + i] = end[i];
        return SamplingPrompt.Infill(fixedTokens);
    }
}
