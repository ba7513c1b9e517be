namespace IlgpuDiffusion.Data;

/// <summary>
/// Writes one split's sequences as numbered shards (<c>train-00000.tokens</c>, ...) into a
/// staging folder, starting a new shard every <c>sequencesPerShard</c> sequences.
/// </summary>
internal sealed class ShardSeriesWriter(string directory, string splitName, int sequenceLength, int sequencesPerShard) : IDisposable
{
    private readonly List<string> names = [];
    private TokenShardWriter? current;

    /// <summary>File names of the committed shards, in order.</summary>
    public IReadOnlyList<string> Names => names;

    /// <summary>Appends one sequence, committing the current shard when it is full.</summary>
    public void Write(ReadOnlySpan<int> sequence)
    {
        if (current is null)
        {
            string name = $"{splitName}-{names.Count:D5}{TokenShardHeader.Extension}";
            current = new TokenShardWriter(Path.Combine(directory, name), sequenceLength);
        }
        current.Write(sequence);
        if (current.SequenceCount == sequencesPerShard) CommitCurrent();
    }

    /// <summary>Commits the last, partly filled shard.</summary>
    public void Complete()
    {
        if (current is not null) CommitCurrent();
    }

    private void CommitCurrent()
    {
        current!.Commit();
        names.Add(Path.GetFileName(current.Path));
        current = null;
    }

    /// <summary>Abandons an uncommitted shard.</summary>
    public void Dispose() => current?.Dispose();
}
