namespace IlgpuDiffusion.Data;

/// <summary>
/// Hands out batches of <c>[batch, L]</c> token ids from a <see cref="TokenShardSet"/>, in an
/// order shuffled afresh every epoch from (seed, epoch). Batches are always full: a batch that
/// reaches the end of an epoch continues with the next epoch's order. Nothing is allocated per
/// batch; the caller owns the destination buffer.
/// </summary>
public sealed class Batcher
{
    private readonly TokenShardSet _sequences;
    private readonly ulong _seed;
    private readonly int[] _order;
    private long _epoch;
    private int _index;

    /// <summary>Creates a batcher that starts at <paramref name="position"/> (the first epoch's start when null).</summary>
    /// <param name="batchSize">B: sequences per batch.</param>
    /// <param name="seed">Seed of the per-epoch shuffles.</param>
    /// <exception cref="ArgumentException">The data is empty or the position lies outside it.</exception>
    public Batcher(TokenShardSet sequences, int batchSize, ulong seed, BatcherPosition? position = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (sequences.SequenceCount == 0) throw new ArgumentException("The token shards hold no sequence to batch.", nameof(sequences));
        if (sequences.SequenceCount > Array.MaxLength)
            throw new ArgumentException($"{sequences.SequenceCount} sequences exceed the batcher's limit of {Array.MaxLength}.",
                nameof(sequences));
        _sequences = sequences;
        _seed = seed;
        BatchSize = batchSize;
        _order = new int[sequences.SequenceCount];
        BatcherPosition start = position ?? BatcherPosition.Start;
        if (start.Epoch < 0 || start.Index < 0 || start.Index >= _order.Length)
            throw new ArgumentException($"Batcher position {start} lies outside data of {_order.Length} sequences; " +
                "was the checkpoint made with other data?", nameof(position));
        ShuffleEpoch(start.Epoch);
        _index = (int)start.Index;
    }

    /// <summary>B: sequences per batch.</summary>
    public int BatchSize { get; }

    /// <summary>L: ids per sequence.</summary>
    public int SequenceLength => _sequences.SequenceLength;

    /// <summary>Ids per batch: B × L.</summary>
    public int BatchElements => BatchSize * SequenceLength;

    /// <summary>Where the next batch starts; store it to resume later.</summary>
    public BatcherPosition Position => new(_epoch, _index);

    /// <summary>Fills <paramref name="destination"/> (<c>[batch, L]</c>, row-major) with the next batch and advances.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="BatchElements"/>.</exception>
    public void NextBatch(Span<int> destination)
    {
        if (destination.Length < BatchElements)
            throw new ArgumentException($"A batch needs {BatchElements} ids ({BatchSize} × {SequenceLength}); " +
                $"the destination holds {destination.Length}.", nameof(destination));
        for (int row = 0; row < BatchSize; row++)
        {
            _sequences.CopySequence(_order[_index], destination.Slice(row * SequenceLength, SequenceLength));
            if (++_index < _order.Length) continue;
            ShuffleEpoch(_epoch + 1);
            _index = 0;
        }
    }

    /// <summary>Advances past <paramref name="batches"/> batches without reading them (another rank's share of a step).</summary>
    public void Skip(int batches)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batches);
        for (long row = 0; row < (long)batches * BatchSize; row++)
        {
            if (++_index < _order.Length) continue;
            ShuffleEpoch(_epoch + 1);
            _index = 0;
        }
    }

    private void ShuffleEpoch(long newEpoch)
    {
        _epoch = newEpoch;
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        SplitMix64.ForStream(_seed, (ulong)newEpoch).Shuffle(_order);
    }
}
