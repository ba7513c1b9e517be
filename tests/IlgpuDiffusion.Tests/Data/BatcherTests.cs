using System.Text.Json;
using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class BatcherTests : IDisposable
{
    private const int SequenceLength = 4;
    private const int Sequences = 10;

    private readonly TempDirectory _temp = new();
    private readonly TokenShardSet _data;

    public BatcherTests()
    {
        // Sequence i (over two shards) holds ids [i, i+100, i+200, i+300], so every row names its sequence.
        string[] paths = [_temp.File("a.tokens"), _temp.File("b.tokens")];
        for (int shard = 0; shard < 2; shard++)
        {
            using var writer = new TokenShardWriter(paths[shard], SequenceLength);
            for (int i = shard * 6; i < Math.Min(Sequences, shard * 6 + 6); i++) writer.Write([i, i + 100, i + 200, i + 300]);
            writer.Commit();
        }
        _data = TokenShardSet.Open(paths, SequenceLength, Gpt2Tokenizer.VocabularySize);
    }

    public void Dispose()
    {
        _data.Dispose();
        _temp.Dispose();
    }

    private static int[] Rows(int[] batch) =>
        Enumerable.Range(0, batch.Length / SequenceLength).Select(r => batch[r * SequenceLength]).ToArray();

    private static List<int[]> Take(Batcher batcher, int batches)
    {
        var result = new List<int[]>();
        for (int b = 0; b < batches; b++)
        {
            var batch = new int[batcher.BatchElements];
            batcher.NextBatch(batch);
            result.Add(batch);
        }
        return result;
    }

    [Fact]
    public void Skipping_batches_lands_where_reading_them_would_across_epochs()
    {
        var reading = new Batcher(_data, batchSize: 3, seed: 11);
        var skipping = new Batcher(_data, batchSize: 3, seed: 11);
        Take(reading, 5); // 15 rows: past the first epoch of 10
        skipping.Skip(5);
        Assert.Equal(reading.Position, skipping.Position);
        Assert.Equal(Take(reading, 2), Take(skipping, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => skipping.Skip(-1));
    }

    [Fact]
    public void Rows_are_whole_sequences_and_each_epoch_visits_every_sequence_once()
    {
        var batcher = new Batcher(_data, batchSize: 5, seed: 11);
        List<int[]> batches = Take(batcher, 4);
        foreach (int[] batch in batches)
            for (int r = 0; r < 5; r++)
                Assert.Equal([batch[r * 4], batch[r * 4] + 100, batch[r * 4] + 200, batch[r * 4] + 300], batch[(r * 4)..(r * 4 + 4)]);
        int[] firstEpoch = batches.Take(2).SelectMany(Rows).ToArray();
        int[] secondEpoch = batches.Skip(2).SelectMany(Rows).ToArray();
        Assert.Equal(Enumerable.Range(0, Sequences), firstEpoch.Order());
        Assert.Equal(Enumerable.Range(0, Sequences), secondEpoch.Order());
        Assert.NotEqual(Enumerable.Range(0, Sequences), firstEpoch);
        Assert.NotEqual(firstEpoch, secondEpoch);
        Assert.Equal(new BatcherPosition(2, 0), batcher.Position);
    }

    [Fact]
    public void The_same_seed_gives_the_same_batches_and_another_seed_others()
    {
        Assert.Equal(Take(new Batcher(_data, 3, seed: 1), 5), Take(new Batcher(_data, 3, seed: 1), 5));
        Assert.NotEqual(Take(new Batcher(_data, 3, seed: 1), 5), Take(new Batcher(_data, 3, seed: 2), 5));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void A_batcher_restarted_from_a_stored_position_continues_identically(int batchesBeforeRestart)
    {
        // Batches of 3 over 10 sequences cross epoch boundaries in the middle of batches.
        List<int[]> uninterrupted = Take(new Batcher(_data, 3, seed: 42), batchesBeforeRestart + 6);
        var first = new Batcher(_data, 3, seed: 42);
        Take(first, batchesBeforeRestart);
        string stored = JsonSerializer.Serialize(first.Position);
        var restored = JsonSerializer.Deserialize<BatcherPosition>(stored);
        Assert.Equal(first.Position, restored);
        var resumed = new Batcher(_data, 3, seed: 42, restored);
        Assert.Equal(uninterrupted.Skip(batchesBeforeRestart), Take(resumed, 6));
    }

    [Fact]
    public void Position_serializes_as_a_small_JSON_record() =>
        Assert.Equal("{\"Epoch\":3,\"Index\":7}", JsonSerializer.Serialize(new BatcherPosition(3, 7)));

    [Fact]
    public void Bad_positions_and_buffers_are_rejected()
    {
        var tooFar = Assert.Throws<ArgumentException>(() => new Batcher(_data, 2, seed: 0, new BatcherPosition(0, Sequences)));
        Assert.Contains("10 sequences", tooFar.Message);
        Assert.Throws<ArgumentException>(() => new Batcher(_data, 2, seed: 0, new BatcherPosition(-1, 0)));
        var batcher = new Batcher(_data, 2, seed: 0);
        Assert.Throws<ArgumentException>(() => batcher.NextBatch(new int[7]));
        Assert.Equal(BatcherPosition.Start, batcher.Position);
    }
}
