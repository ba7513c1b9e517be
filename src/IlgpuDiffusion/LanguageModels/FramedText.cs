using IlgpuDiffusion.Data;

namespace IlgpuDiffusion;

/// <summary>
/// Generated ids as text. Sequences are framed as [BOS] … [EOS]; the frame is dropped, document boundaries inside stay
/// visible as <c>&lt;|endoftext|&gt;</c> and masked positions as <c>[MASK]</c>.
/// </summary>
internal static class FramedText
{
    /// <summary>The text of <paramref name="ids"/> without its leading BOS and trailing EOS.</summary>
    public static string Decode(ReadOnlySpan<int> ids, Tokenizer tokenizer) => tokenizer.Decode(WithoutFrame(ids, tokenizer));

    /// <summary><paramref name="ids"/> without a leading BOS and a trailing EOS.</summary>
    public static ReadOnlySpan<int> WithoutFrame(ReadOnlySpan<int> ids, Tokenizer tokenizer) =>
        WithoutFrame(ids, tokenizer, leading: true, trailing: true);

    /// <summary><paramref name="ids"/> without a leading BOS (if <paramref name="leading"/>) and a trailing EOS (if
    /// <paramref name="trailing"/>).</summary>
    public static ReadOnlySpan<int> WithoutFrame(ReadOnlySpan<int> ids, Tokenizer tokenizer, bool leading, bool trailing)
    {
        if (leading && ids.Length > 0 && ids[0] == tokenizer.Bos) ids = ids[1..];
        if (trailing && ids.Length > 0 && ids[^1] == tokenizer.Eos) ids = ids[..^1];
        return ids;
    }
}
