using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class MdlmSequencePackerTests
{
    private const int E = Gpt2Tokenizer.EndOfText;

    private static (List<int[]> Sequences, MdlmSequencePacker Packer) Wrap(int sequenceLength, params int[][] documents)
    {
        var sequences = new List<int[]>();
        var packer = new MdlmSequencePacker(sequenceLength, Gpt2Tokenizer.Shared, sequence => sequences.Add(sequence.ToArray()));
        foreach (int[] document in documents) packer.AddDocument(document);
        return (sequences, packer);
    }

    [Fact]
    public void Wraps_documents_with_EOS_into_BOS_chunk_EOS_sequences_and_drops_the_remainder()
    {
        // Stream: 1 2 3 E | 4 5 E | 6 7 8 9 10 E  -> chunks of L-2 = 4: [1 2 3 E] [4 5 E 6] [7 8 9 10], [E] dropped.
        var (sequences, packer) = Wrap(6, [1, 2, 3], [4, 5], [6, 7, 8, 9, 10]);
        Assert.Equal(
            [
                [E, 1, 2, 3, E, E],
                [E, 4, 5, E, 6, E],
                [E, 7, 8, 9, 10, E],
            ],
            sequences);
        Assert.Equal(3, packer.Documents);
        Assert.Equal(13, packer.Tokens);
        Assert.Equal(3, packer.Sequences);
        Assert.Equal(1, packer.PendingTokens);
    }

    [Fact]
    public void A_document_longer_than_a_chunk_spans_several_sequences()
    {
        var (sequences, packer) = Wrap(5, Enumerable.Range(1, 10).ToArray());
        // Stream 1..10 E (11 ids) -> chunks of 3: [1 2 3] [4 5 6] [7 8 9], [10 E] dropped.
        Assert.Equal([[E, 1, 2, 3, E], [E, 4, 5, 6, E], [E, 7, 8, 9, E]], sequences);
        Assert.Equal(2, packer.PendingTokens);
    }

    [Fact]
    public void Every_sequence_has_length_L_and_the_kept_stream_is_the_concatenation()
    {
        var random = new Random(7);
        int[][] documents = Enumerable.Range(0, 50)
            .Select(_ => Enumerable.Range(0, random.Next(0, 40)).Select(_ => random.Next(0, 50000)).ToArray())
            .ToArray();
        var (sequences, packer) = Wrap(16, documents);
        int[] stream = documents.SelectMany(d => d.Append(E)).ToArray();
        Assert.Equal(stream.Length, packer.Tokens);
        Assert.Equal(stream.Length / 14, sequences.Count);
        Assert.Equal(stream.Length % 14, packer.PendingTokens);
        Assert.All(sequences, s => Assert.Equal(16, s.Length));
        Assert.All(sequences, s => Assert.True(s[0] == E && s[^1] == E));
        Assert.Equal(stream.Take(sequences.Count * 14), sequences.SelectMany(s => s[1..^1]));
    }

    [Fact]
    public void Too_little_text_for_one_chunk_emits_nothing()
    {
        var (sequences, packer) = Wrap(1024, [1, 2, 3]);
        Assert.Empty(sequences);
        Assert.Equal(4, packer.PendingTokens);
    }

    [Fact]
    public void Sequence_length_below_three_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new MdlmSequencePacker(2, Gpt2Tokenizer.Shared, _ => { }));
}
