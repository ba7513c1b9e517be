using System.Text;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>Token ids of a sample as text, for people and for JSON lines, in the tokenizer of the model that sampled them.</summary>
internal static class SampleText
{
    /// <summary>
    /// The text of a finished sample. MDLM sequences are framed as [BOS] … [EOS]; the frame is dropped, and
    /// document boundaries inside stay visible as <c>&lt;|endoftext|&gt;</c>.
    /// </summary>
    public static string Decode(ReadOnlySpan<int> ids, Tokenizer tokenizer) => FramedText.Decode(ids, tokenizer);

    /// <summary>
    /// A finished sample for reading: as <see cref="Decode"/>, but each document boundary inside becomes an empty line
    /// (the next document's leading spaces dropped) instead of the tokenizer's <c>&lt;|endoftext|&gt;</c> marker.
    /// </summary>
    public static string DecodeDocuments(ReadOnlySpan<int> ids, Tokenizer tokenizer)
    {
        ids = FramedText.WithoutFrame(ids, tokenizer);
        var text = new StringBuilder();
        while (true)
        {
            int end = ids.IndexOf(tokenizer.Eos);
            string document = tokenizer.Decode(end < 0 ? ids : ids[..end]);
            text.Append(text.Length == 0 ? document : document.TrimStart(' '));
            if (end < 0) return text.ToString();
            text.Append("\n\n");
            ids = ids[(end + 1)..];
        }
    }

    /// <summary>
    /// A partially denoised sample: decoded runs of revealed tokens, one <paramref name="maskGlyph"/> per position holding
    /// the model's <paramref name="maskId"/>; the [BOS] … [EOS] frame is dropped as in <see cref="Decode"/>.
    /// </summary>
    public static string DecodePartial(ReadOnlySpan<int> ids, Tokenizer tokenizer, int maskId, char maskGlyph)
    {
        ids = FramedText.WithoutFrame(ids, tokenizer);
        var text = new StringBuilder();
        int start = 0;
        for (int i = 0; i <= ids.Length; i++)
        {
            bool masked = i < ids.Length && ids[i] == maskId;
            if (i < ids.Length && !masked) continue;
            if (i > start) text.Append(tokenizer.Decode(ids[start..i]));
            if (masked) text.Append(maskGlyph);
            start = i + 1;
        }
        return text.ToString();
    }
}
