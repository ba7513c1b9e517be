namespace IlgpuDiffusion.Data;

/// <summary>Several token shards of the same sequence length, indexed as one list of sequences.</summary>
public sealed class TokenShardSet : IDisposable
{
    private readonly TokenShard[] _shards;
    private readonly long[] _firstIndex;

    private TokenShardSet(TokenShard[] shards, int sequenceLength, int vocabularySize, Tokenizer? tokenizer)
    {
        _shards = shards;
        SequenceLength = sequenceLength;
        VocabularySize = vocabularySize;
        Tokenizer = tokenizer;
        _firstIndex = new long[shards.Length + 1];
        for (int i = 0; i < shards.Length; i++) _firstIndex[i + 1] = _firstIndex[i] + shards[i].SequenceCount;
    }

    /// <summary>The shards, in order.</summary>
    public IReadOnlyList<TokenShard> Shards => _shards;

    /// <summary>L: ids per sequence.</summary>
    public int SequenceLength { get; }

    /// <summary>Every id is below this: the vocabulary size in the shards' headers.</summary>
    public int VocabularySize { get; }

    /// <summary>
    /// The tokenizer the shards were opened for (<see cref="PreparedCorpus.OpenTrain"/> knows it), or null when they
    /// were opened by vocabulary size alone; trainers refuse a model configured for another tokenizer.
    /// </summary>
    public Tokenizer? Tokenizer { get; }

    /// <summary>Sequences in all shards together.</summary>
    public long SequenceCount => _firstIndex[^1];

    /// <summary>
    /// Opens every shard, requiring sequence length <paramref name="sequenceLength"/> and vocabulary size
    /// <paramref name="vocabularySize"/>, whatever tokenizer made them (<see cref="Tokenizer"/> stays null).
    /// </summary>
    /// <exception cref="InvalidDataException">A shard is foreign, truncated or made with other settings.</exception>
    public static TokenShardSet Open(IEnumerable<string> paths, int sequenceLength, int vocabularySize) =>
        OpenShards(paths, sequenceLength, vocabularySize, tokenizer: null);

    /// <summary>
    /// Opens every shard as made by <paramref name="tokenizer"/>, requiring sequence length <paramref name="sequenceLength"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">
    /// A shard is foreign, truncated or made with other settings (another tokenizer's vocabulary among them).
    /// </exception>
    public static TokenShardSet Open(IEnumerable<string> paths, int sequenceLength, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return OpenShards(paths, sequenceLength, tokenizer.VocabularySize, tokenizer);
    }

    private static TokenShardSet OpenShards(IEnumerable<string> paths, int sequenceLength, int vocabularySize, Tokenizer? tokenizer)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var opened = new List<TokenShard>();
        try
        {
            foreach (string path in paths) opened.Add(TokenShard.Open(path, sequenceLength, vocabularySize));
        }
        catch
        {
            foreach (TokenShard shard in opened) shard.Dispose();
            throw;
        }
        return new TokenShardSet([.. opened], sequenceLength, vocabularySize, tokenizer);
    }

    /// <summary>Copies sequence <paramref name="index"/> (over all shards) into <paramref name="destination"/>.</summary>
    /// <exception cref="InvalidDataException">The sequence holds an id outside the vocabulary; the message names its shard.</exception>
    public void CopySequence(long index, Span<int> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, SequenceCount);
        int shard = Array.BinarySearch(_firstIndex, index);
        if (shard < 0) shard = ~shard - 1;
        while (_shards[shard].SequenceCount == 0) shard++;
        _shards[shard].CopySequence(index - _firstIndex[shard], destination);
    }

    /// <summary>Closes every shard.</summary>
    public void Dispose()
    {
        foreach (TokenShard shard in _shards) shard.Dispose();
    }
}
