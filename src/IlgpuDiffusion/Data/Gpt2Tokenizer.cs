using System.Text;
using Microsoft.ML.Tokenizers;

namespace IlgpuDiffusion.Data;

/// <summary>
/// The GPT-2 byte-level BPE tokenizer (50,257 ids) used by MDLM and SDTT, plus the diffusion
/// MASK id that the model adds on top. Backed by <c>Microsoft.ML.Tokenizers</c>' offline
/// GPT-2 vocabulary; ids match OpenAI's tiktoken. Thread-safe: one instance may encode on
/// many threads at once.
/// </summary>
/// <remarks>
/// A literal <c>&lt;|endoftext|&gt;</c> inside a text encodes to <see cref="EndOfText"/>, as with
/// Hugging Face's GPT-2 tokenizer.
/// </remarks>
public sealed class Gpt2Tokenizer
{
    /// <summary>Number of ids the GPT-2 tokenizer produces (0 .. 50256).</summary>
    public const int VocabularySize = 50257;

    /// <summary>The <c>&lt;|endoftext|&gt;</c> id, used both as BOS and as EOS.</summary>
    public const int EndOfText = 50256;

    /// <summary>Beginning-of-sequence id (the same token as <see cref="EndOfText"/>).</summary>
    public const int Bos = EndOfText;

    /// <summary>End-of-sequence / end-of-document id (the same token as <see cref="EndOfText"/>).</summary>
    public const int Eos = EndOfText;

    /// <summary>The diffusion MASK id, one past the tokenizer's vocabulary.</summary>
    public const int Mask = VocabularySize;

    /// <summary>Vocabulary size of the diffusion model: the GPT-2 ids plus MASK (50,258 logits).</summary>
    public const int ModelVocabularySize = VocabularySize + 1;

    /// <summary>Name recorded in shard metadata.</summary>
    public const string Name = "gpt2";

    /// <summary>How <see cref="Decode"/> renders a MASK id when it keeps special ids.</summary>
    public const string MaskText = "[MASK]";

    private static readonly Lazy<Gpt2Tokenizer> SharedInstance = new(() => new Gpt2Tokenizer());

    private readonly TiktokenTokenizer _tokenizer;

    private Gpt2Tokenizer() => _tokenizer = TiktokenTokenizer.CreateForModel(Name);

    /// <summary>The process-wide tokenizer (the vocabulary is loaded once, on first use).</summary>
    public static Gpt2Tokenizer Shared => SharedInstance.Value;

    /// <summary>A new tokenizer with its own cache, for a thread that encodes a lot.</summary>
    internal static Gpt2Tokenizer Create() => new();

    /// <summary>Encodes <paramref name="text"/> to GPT-2 ids, without adding any special token.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        IReadOnlyList<int> ids = _tokenizer.EncodeToIds(text);
        var result = new int[ids.Count];
        for (int i = 0; i < result.Length; i++) result[i] = ids[i];
        return result;
    }

    /// <summary>
    /// Decodes ids back to text. With <paramref name="skipSpecial"/> false, <see cref="EndOfText"/>
    /// appears as <c>&lt;|endoftext|&gt;</c> and <see cref="Mask"/> as <see cref="MaskText"/>;
    /// with it true both are dropped.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside 0 .. <see cref="ModelVocabularySize"/> − 1.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var run = new List<int>(ids.Length);
        var text = new StringBuilder();
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= ModelVocabularySize)
                throw new ArgumentOutOfRangeException(nameof(ids),
                    $"Token id {id} at position {i} is outside the model vocabulary 0..{ModelVocabularySize - 1}.");
            if (skipSpecial && (id == EndOfText || id == Mask)) continue;
            if (id != Mask)
            {
                run.Add(id);
                continue;
            }
            FlushRun(run, text);
            text.Append(MaskText);
        }
        FlushRun(run, text);
        return text.ToString();
    }

    private void FlushRun(List<int> run, StringBuilder text)
    {
        if (run.Count == 0) return;
        text.Append(_tokenizer.Decode(run));
        run.Clear();
    }
}
