using System.Buffers.Binary;
using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class TokenShardTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string WriteShard(string name, int sequenceLength, int count, int vocabularySize = Gpt2Tokenizer.VocabularySize)
    {
        using var writer = new TokenShardWriter(_temp.File(name), sequenceLength, vocabularySize);
        for (int s = 0; s < count; s++) writer.Write(Sequence(s, sequenceLength, vocabularySize));
        writer.Commit();
        return writer.Path;
    }

    private static int[] Sequence(int index, int sequenceLength, int vocabularySize = Gpt2Tokenizer.VocabularySize) =>
        Enumerable.Range(0, sequenceLength).Select(i => (index * 7919 + i * 104729) % vocabularySize).ToArray();

    [Fact]
    public void Round_trip_preserves_header_and_every_id()
    {
        string path = WriteShard("a.tokens", 8, 5);
        Assert.Equal(new[] { "a.tokens" }, _temp.AllFiles());
        Assert.Equal(TokenShardHeader.Size + 5 * 8 * 2, new FileInfo(path).Length);
        using TokenShard shard = TokenShard.Open(path, expectedSequenceLength: 8);
        Assert.Equal(new TokenShardHeader(Gpt2Tokenizer.VocabularySize, 8, 5), shard.Header);
        var ids = new int[8];
        for (int s = 0; s < 5; s++)
        {
            shard.CopySequence(s, ids);
            Assert.Equal(Sequence(s, 8), ids);
        }
        Assert.Equal(Sequence(3, 8).Select(i => (ushort)i), shard.GetSequence(3).ToArray());
    }

    [Fact]
    public void The_highest_id_survives_uint16_storage()
    {
        using (var writer = new TokenShardWriter(_temp.File("max.tokens"), 3))
        {
            writer.Write([0, Gpt2Tokenizer.EndOfText, 65]);
            writer.Commit();
        }
        using TokenShard shard = TokenShard.Open(_temp.File("max.tokens"));
        Assert.Equal(new ushort[] { 0, 50256, 65 }, shard.GetSequence(0).ToArray());
    }

    [Fact]
    public void A_shard_set_indexes_sequences_across_shards()
    {
        string[] paths = [WriteShard("s0.tokens", 4, 3), WriteShard("s1.tokens", 4, 0), WriteShard("s2.tokens", 4, 2)];
        using TokenShardSet set = TokenShardSet.Open(paths, 4, Gpt2Tokenizer.VocabularySize);
        Assert.Equal(5, set.SequenceCount);
        var ids = new int[4];
        set.CopySequence(3, ids);
        Assert.Equal(Sequence(0, 4), ids);
        set.CopySequence(2, ids);
        Assert.Equal(Sequence(2, 4), ids);
        Assert.Throws<ArgumentOutOfRangeException>(() => set.CopySequence(5, ids));
    }

    [Fact]
    public void An_abandoned_writer_leaves_no_file()
    {
        using (var writer = new TokenShardWriter(_temp.File("gone.tokens"), 4))
            writer.Write([1, 2, 3, 4]);
        Assert.Empty(_temp.AllFiles());
    }

    [Fact]
    public void A_commit_that_cannot_rename_leaves_no_temporary_file()
    {
        Directory.CreateDirectory(_temp.File("taken.tokens"));
        var writer = new TokenShardWriter(_temp.File("taken.tokens"), 2);
        writer.Write([1, 2]);
        Assert.ThrowsAny<IOException>(writer.Commit);
        writer.Dispose();
        Assert.Equal([_temp.File("taken.tokens")], Directory.GetFileSystemEntries(_temp.Path));
    }

    [Fact]
    public void The_writer_rejects_ids_outside_the_vocabulary_and_wrong_lengths()
    {
        using var writer = new TokenShardWriter(_temp.File("bad.tokens"), 3);
        var id = Assert.Throws<ArgumentException>(() => writer.Write([1, Gpt2Tokenizer.Mask, 2]));
        Assert.Contains("50257", id.Message);
        Assert.Throws<ArgumentException>(() => writer.Write([1, 2]));
    }

    [Fact]
    public void A_truncated_shard_is_rejected_with_its_path()
    {
        string path = WriteShard("cut.tokens", 8, 4);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        var error = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("truncated", error.Message);
        File.WriteAllBytes(path, bytes[..20]);
        error = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("shorter than the 32-byte header", error.Message);
    }

    [Fact]
    public void A_foreign_file_is_rejected_with_its_path()
    {
        string path = _temp.Write("foreign.tokens", "This is a text file, not a token shard at all.");
        var error = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("not a token shard", error.Message);
        string empty = _temp.Write("empty.tokens", []);
        error = Assert.Throws<InvalidDataException>(() => TokenShard.Open(empty));
        Assert.Contains(empty, error.Message);
    }

    [Fact]
    public void A_shard_of_another_vocabulary_or_sequence_length_is_rejected()
    {
        string otherVocabulary = WriteShard("vocab.tokens", 8, 2, vocabularySize: 32000);
        var error = Assert.Throws<InvalidDataException>(() => TokenShard.Open(otherVocabulary, 8));
        Assert.Contains(otherVocabulary, error.Message);
        Assert.Contains("vocabulary size 32000", error.Message);

        string otherLength = WriteShard("length.tokens", 8, 2);
        error = Assert.Throws<InvalidDataException>(() => TokenShardSet.Open([otherLength], 16, Gpt2Tokenizer.Shared));
        Assert.Contains(otherLength, error.Message);
        Assert.Contains("length 8", error.Message);
    }

    [Fact]
    public void A_shard_of_an_unknown_format_version_is_rejected()
    {
        string path = WriteShard("v2.tokens", 4, 1);
        byte[] bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 2);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("version 2", error.Message);
    }

    [Fact]
    public void An_id_outside_the_shard_vocabulary_names_the_shard_sequence_and_position()
    {
        string good = WriteShard("good.tokens", 4, 2, vocabularySize: 100), bad = WriteShard("bad.tokens", 4, 3, vocabularySize: 100);
        byte[] bytes = File.ReadAllBytes(bad);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(TokenShardHeader.Size + 2 * (1 * 4 + 2)), 500);
        File.WriteAllBytes(bad, bytes);
        using TokenShardSet set = TokenShardSet.Open([good, bad], 4, 100);
        var ids = new int[4];
        set.CopySequence(2, ids);
        var error = Assert.Throws<InvalidDataException>(() => set.CopySequence(3, ids));
        Assert.Contains(bad, error.Message);
        Assert.Contains("sequence 1 holds token id 500 at position 2", error.Message);
        Assert.Contains("vocabulary of 100", error.Message);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(20)]
    public void A_header_size_beyond_32_bits_signed_names_the_shard(int field)
    {
        string path = WriteShard("huge.tokens", 4, 1);
        byte[] bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(field), uint.MaxValue);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("corrupt token shard header", error.Message);
    }

    [Fact]
    public void A_missing_shard_names_the_path()
    {
        var error = Assert.Throws<FileNotFoundException>(() => TokenShard.Open(_temp.File("none.tokens")));
        Assert.Contains(_temp.File("none.tokens"), error.Message);
    }
}
