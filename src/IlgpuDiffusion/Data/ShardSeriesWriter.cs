namespace IlgpuDiffusion.Data;

/// <summary>
/// Writes one split's sequences as numbered shards (<c>train-00000.tokens</c>, ...) into a
/// staging folder, starting a new shard every <c>sequencesPerShard</c> sequences; every id is below <c>vocabularySize</c>.
/// </summary>
internal sealed class ShardSeriesWriter(string directory, string splitName, int sequenceLength, int sequencesPerShard,
    int vocabularySize) : IDisposable
{
    private readonly List<string> _names = [];
    private TokenShardWriter? _current;

    /// <summary>File names of the committed shards, in order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Appends one sequence, committing the current shard when it is full.</summary>
    public void Write(ReadOnlySpan<int> sequence)
    {
        if (_current is null)
        {
            string name = $"{splitName}-{_names.Count:D5}{TokenShardHeader.Extension}";
            _current = new TokenShardWriter(Path.Combine(directory, name), sequenceLength, vocabularySize);
        }
        _current.Write(sequence);
        if (_current.SequenceCount == sequencesPerShard) CommitCurrent();
    }

    /// <summary>Commits the last, partly filled shard.</summary>
    public void Complete()
    {
        if (_current is not null) CommitCurrent();
    }

    private void CommitCurrent()
    {
        _current!.Commit();
        _names.Add(Path.GetFileName(_current.Path));
        _current = null;
    }

    /// <summary>Abandons an uncommitted shard.</summary>
    public void Dispose() => _current?.Dispose();
}
