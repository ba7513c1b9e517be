using System.Text;

namespace IlgpuDiffusion.Data;

/// <summary>
/// The byte-level tokenizer (name <c>"bytes"</c>): ids 0–255 are the UTF-8 bytes of the text and 256 is end-of-text,
/// 257 ids in all, so a diffusion model over it has 258 logits (MASK = 257). A vocabulary this small suits models
/// trained on a CPU, as MDLM's character-level text8 experiments (arXiv:2406.07524) use 27 characters instead of BPE.
/// Encoding needs no vocabulary file and no state.
/// </summary>
/// <remarks>
/// Unlike GPT-2, a literal <c>&lt;|endoftext|&gt;</c> inside a text is not special: it encodes to its 13 bytes. Decoding
/// writes bytes that are not valid UTF-8 as U+FFFD (the replacement character), one per maximal invalid subsequence, so
/// text cut in the middle of a character still decodes. A string with an unpaired surrogate encodes that surrogate as
/// the bytes of U+FFFD.
/// </remarks>
public sealed class ByteTokenizer : Tokenizer
{
    /// <summary>Name recorded in shard metadata and model configs.</summary>
    public new const string Name = "bytes";

    private const int ByteIds = 256;

    private ByteTokenizer()
        : base(Name, vocabularySize: ByteIds + 1, endOfText: ByteIds)
    {
    }

    /// <summary>The tokenizer (it holds no state).</summary>
    public static ByteTokenizer Shared { get; } = new();

    private protected override int[] EncodeText(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    private protected override string DecodeRun(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        var bytes = new byte[ids.Length];
        int pending = 0;
        foreach (int id in ids)
        {
            if (id < ByteIds)
            {
                bytes[pending++] = (byte)id;
                continue;
            }
            text.Append(Encoding.UTF8.GetString(bytes, 0, pending)).Append(EndOfTextMarker);
            pending = 0;
        }
        return text.Append(Encoding.UTF8.GetString(bytes, 0, pending)).ToString();
    }
}
