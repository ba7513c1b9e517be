namespace IlgpuDiffusion.Data;

/// <summary>Receives one finished sequence of token ids; the span is only valid during the call.</summary>
public delegate void SequenceHandler(ReadOnlySpan<int> sequence);

/// <summary>
/// MDLM's "wrap" preprocessing (docs/algorithms.md §1.1, <c>dataloader.get_dataset</c> with <c>wrap=True</c>):
/// each document's ids followed by EOS are concatenated into one stream, the stream is cut into
/// chunks of L − 2 ids, and each chunk is emitted as <c>[BOS] + chunk + [EOS]</c> (length L).
/// The remainder that does not fill a chunk is dropped. Documents cross sequence boundaries.
/// </summary>
internal sealed class MdlmSequencePacker
{
    private readonly int[] _sequence;
    private readonly int _eos;
    private readonly SequenceHandler _emit;
    private int _filled;

    /// <summary>
    /// Creates a packer that hands each finished sequence of <paramref name="sequenceLength"/> ids to <paramref name="emit"/>.
    /// </summary>
    /// <param name="sequenceLength">L, at least 3 (BOS, one text id, EOS).</param>
    /// <param name="tokenizer">Gives the BOS and EOS ids.</param>
    public MdlmSequencePacker(int sequenceLength, Tokenizer tokenizer, SequenceHandler emit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 3);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(emit);
        _sequence = new int[sequenceLength];
        _sequence[0] = tokenizer.Bos;
        _eos = tokenizer.Eos;
        _emit = emit;
    }

    /// <summary>L: ids per emitted sequence.</summary>
    public int SequenceLength => _sequence.Length;

    /// <summary>Documents added so far.</summary>
    public long Documents { get; private set; }

    /// <summary>Ids added so far, counting the EOS appended to every document.</summary>
    public long Tokens { get; private set; }

    /// <summary>Sequences emitted so far.</summary>
    public long Sequences { get; private set; }

    /// <summary>Ids waiting for a chunk to fill; dropped if no more documents come.</summary>
    public int PendingTokens => _filled;

    /// <summary>Appends one document (its ids without special tokens) and its EOS, emitting every sequence that fills.</summary>
    public void AddDocument(ReadOnlySpan<int> documentIds)
    {
        foreach (int id in documentIds) Append(id);
        Append(_eos);
        Documents++;
    }

    private void Append(int id)
    {
        _sequence[1 + _filled++] = id;
        Tokens++;
        if (_filled < _sequence.Length - 2) return;
        _sequence[^1] = _eos;
        _emit(_sequence);
        Sequences++;
        _filled = 0;
    }
}
