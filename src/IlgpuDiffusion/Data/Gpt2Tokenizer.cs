using Microsoft.ML.Tokenizers;

namespace IlgpuDiffusion.Data;

/// <summary>
/// The GPT-2 byte-level BPE tokenizer (50,257 ids) used by MDLM and SDTT and by Hugging Face's GPT-2 and MDLM models,
/// plus the diffusion MASK id that the model adds on top. Backed by <c>Microsoft.ML.Tokenizers</c>' offline GPT-2
/// vocabulary, loaded on first use; ids match OpenAI's tiktoken. Its constants are for code that means GPT-2 itself
/// (Hugging Face import and export, config defaults); code that follows the data or the model reads them from a
/// <see cref="Tokenizer"/> instance.
/// </summary>
/// <remarks>
/// A literal <c>&lt;|endoftext|&gt;</c> inside a text encodes to <see cref="EndOfText"/>, as with Hugging Face's GPT-2
/// tokenizer.
/// </remarks>
public sealed class Gpt2Tokenizer : Tokenizer
{
    /// <summary>Number of ids the GPT-2 tokenizer produces (0 .. 50256).</summary>
    public new const int VocabularySize = 50257;

    /// <summary>The <c>&lt;|endoftext|&gt;</c> id, used both as BOS and as EOS.</summary>
    public new const int EndOfText = 50256;

    /// <summary>Beginning-of-sequence id (the same token as <see cref="EndOfText"/>).</summary>
    public new const int Bos = EndOfText;

    /// <summary>End-of-sequence / end-of-document id (the same token as <see cref="EndOfText"/>).</summary>
    public new const int Eos = EndOfText;

    /// <summary>The diffusion MASK id, one past the tokenizer's vocabulary.</summary>
    public new const int Mask = VocabularySize;

    /// <summary>Vocabulary size of the diffusion model: the GPT-2 ids plus MASK (50,258 logits).</summary>
    public new const int ModelVocabularySize = VocabularySize + 1;

    /// <summary>Name recorded in shard metadata and model configs.</summary>
    public new const string Name = "gpt2";

    private readonly Lazy<TiktokenTokenizer> _tokenizer = new(() => TiktokenTokenizer.CreateForModel(Name));

    private Gpt2Tokenizer()
        : base(Name, VocabularySize, EndOfText)
    {
    }

    /// <summary>The process-wide tokenizer (the vocabulary is loaded once, on first use).</summary>
    public static Gpt2Tokenizer Shared { get; } = new();

    /// <summary>A new tokenizer with its own cache, for a thread that encodes a lot.</summary>
    internal override Tokenizer ForParallelEncoding() => new Gpt2Tokenizer();

    private protected override int[] EncodeText(string text)
    {
        IReadOnlyList<int> ids = _tokenizer.Value.EncodeToIds(text);
        var result = new int[ids.Count];
        for (int i = 0; i < result.Length; i++) result[i] = ids[i];
        return result;
    }

    private protected override string DecodeRun(ReadOnlySpan<int> ids) => _tokenizer.Value.Decode(ids.ToArray());
}
