using System.Runtime.InteropServices;
using System.Text;

namespace IlgpuDiffusion.Data;

/// <summary>
/// A tokenizer of the library: text to ids and back, the end-of-text id that frames MDLM's sequences (BOS = EOS, as in
/// MDLM's wrapping, docs/algorithms.md §1.1) and the diffusion MASK id, which the model adds one past the tokenizer's
/// ids. The built-ins are <see cref="Gpt2Tokenizer"/> (<c>"gpt2"</c>, the default: MDLM's and SDTT's vocabulary and the
/// one of Hugging Face models) and <see cref="ByteTokenizer"/> (<c>"bytes"</c>, UTF-8 bytes, for small CPU models, as
/// MDLM's character-level text8 runs); <see cref="FromName"/> finds them by the name that shard metadata and model
/// configs record. Instances are thread-safe: one may encode on many threads at once.
/// </summary>
public abstract class Tokenizer
{
    /// <summary>How <see cref="Decode"/> renders the end-of-text id when it keeps special ids (GPT-2's own spelling).</summary>
    public const string EndOfTextMarker = "<|endoftext|>";

    /// <summary>How <see cref="Decode"/> renders a MASK id when it keeps special ids.</summary>
    public const string MaskText = "[MASK]";

    /// <summary>The names of the built-in tokenizers, the default first.</summary>
    public static IReadOnlyList<string> Names { get; } = [Gpt2Tokenizer.Name, ByteTokenizer.Name];

    private protected Tokenizer(string name, int vocabularySize, int endOfText)
    {
        Name = name;
        VocabularySize = vocabularySize;
        EndOfText = endOfText;
    }

    /// <summary>The name recorded in shard metadata and model configs (<see cref="Names"/>).</summary>
    public string Name { get; }

    /// <summary>Number of ids the tokenizer emits (0 .. <see cref="VocabularySize"/> − 1), end-of-text included.</summary>
    public int VocabularySize { get; }

    /// <summary>The end-of-text id: it ends every document and frames every sequence.</summary>
    public int EndOfText { get; }

    /// <summary>Beginning-of-sequence id (the same token as <see cref="EndOfText"/>).</summary>
    public int Bos => EndOfText;

    /// <summary>End-of-sequence / end-of-document id (the same token as <see cref="EndOfText"/>).</summary>
    public int Eos => EndOfText;

    /// <summary>The diffusion MASK id, one past the tokenizer's ids: the model adds it.</summary>
    public int Mask => VocabularySize;

    /// <summary>Vocabulary size of a diffusion model over this tokenizer: its ids plus MASK.</summary>
    public int ModelVocabularySize => VocabularySize + 1;

    /// <summary>The built-in tokenizer called <paramref name="name"/> (one of <see cref="Names"/>).</summary>
    /// <exception cref="ArgumentException">No built-in tokenizer has that name.</exception>
    public static Tokenizer FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Find(name) ?? throw new ArgumentException(UnknownMessage(name), nameof(name));
    }

    /// <summary>Encodes <paramref name="text"/> to ids, without adding any special token.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeText(text);
    }

    /// <summary>
    /// Decodes ids back to text. With <paramref name="skipSpecial"/> false, <see cref="EndOfText"/> appears as
    /// <see cref="EndOfTextMarker"/> and <see cref="Mask"/> as <see cref="MaskText"/>; with it true both are dropped.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside 0 .. <see cref="ModelVocabularySize"/> − 1.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var run = new List<int>(ids.Length);
        var text = new StringBuilder();
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)ModelVocabularySize)
                throw new ArgumentOutOfRangeException(nameof(ids),
                    $"Token id {id} at position {i} is outside the {Name} model vocabulary 0..{ModelVocabularySize - 1}.");
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

    /// <summary>The ids of <paramref name="text"/> (not null).</summary>
    private protected abstract int[] EncodeText(string text);

    /// <summary>
    /// The text of a run of ids below <see cref="VocabularySize"/>, end-of-text ids written as <see cref="EndOfTextMarker"/>.
    /// </summary>
    private protected abstract string DecodeRun(ReadOnlySpan<int> ids);

    /// <summary>
    /// An instance for one thread of a parallel encoding: GPT-2 gives each thread its own cache; a stateless tokenizer
    /// returns itself.
    /// </summary>
    internal virtual Tokenizer ForParallelEncoding() => this;

    /// <summary>The built-in tokenizer called <paramref name="name"/>, or null.</summary>
    internal static Tokenizer? Find(string name) => name switch
    {
        Gpt2Tokenizer.Name => Gpt2Tokenizer.Shared,
        ByteTokenizer.Name => ByteTokenizer.Shared,
        _ => null,
    };

    /// <summary>Why <paramref name="name"/> is refused, naming the built-ins.</summary>
    internal static string UnknownMessage(string name) =>
        $"Unknown tokenizer '{name}'; the built-in tokenizers are {string.Join(", ", Names)}.";

    /// <summary>
    /// A vocabulary size for messages, with the built-in tokenizer of that size if there is one: "257 (bytes)".
    /// </summary>
    internal static string DescribeVocabulary(int vocabularySize)
    {
        string? name = Names.FirstOrDefault(n => Find(n)!.VocabularySize == vocabularySize);
        return name is null ? $"{vocabularySize}" : $"{vocabularySize} ({name})";
    }

    /// <summary>
    /// The tokenizer a model config names, checked against the config's vocabulary <paramref name="vocab"/>: the name
    /// must be a built-in, and the model may not have more ids than the tokenizer's ids and MASK (ids it could emit but
    /// the tokenizer not decode). Fewer is allowed: small test models use a part of the ids.
    /// </summary>
    /// <exception cref="ArgumentException">The name is unknown or <paramref name="vocab"/> is too large.</exception>
    internal static Tokenizer ForModel(string name, int vocab)
    {
        if (name is null || Find(name) is not Tokenizer tokenizer)
            throw new ArgumentException(UnknownMessage(name ?? "(null)"));
        if (vocab > tokenizer.ModelVocabularySize)
            throw new ArgumentException($"Vocab {vocab} exceeds the {name} tokenizer's model vocabulary of " +
                $"{tokenizer.ModelVocabularySize} (its {tokenizer.VocabularySize} ids and MASK): the model could emit ids the tokenizer " +
                $"cannot decode. Use Vocab ≤ {tokenizer.ModelVocabularySize}.");
        return tokenizer;
    }

    private void FlushRun(List<int> run, StringBuilder text)
    {
        if (run.Count == 0) return;
        text.Append(DecodeRun(CollectionsMarshal.AsSpan(run)));
        run.Clear();
    }
}
