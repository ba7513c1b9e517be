using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

/// <summary>
/// Corpus preparation with the byte tokenizer, end to end, and what happens when shards of one tokenizer are opened for
/// the other.
/// </summary>
public sealed class ByteCorpusPreparationTests : IDisposable
{
    private const int Length = 16, EndOfText = 256;

    private static readonly string[] Documents =
    [
        "Fellow-Citizens of the Senate and House of Representatives:",
        "Ünïcödé text 🎉 with   runs of spaces\n\nand two paragraphs.",
        "A short one.",
        "We the People of the United States, in Order to form a more perfect Union.",
        "The progress of public credit is witnessed by a considerable rise of American stock abroad.",
        "€ and ß and 中文 cross sequence boundaries in the middle of a character.",
    ];

    private readonly TempDirectory _temp = new();
    private readonly string _corpus;

    public ByteCorpusPreparationTests()
    {
        for (int i = 0; i < Documents.Length; i++) _temp.Write($"corpus/{i:D2}.txt", Documents[i]);
        _corpus = _temp.File("corpus");
    }

    public void Dispose() => _temp.Dispose();

    private static CorpusPreparationOptions Options(Tokenizer tokenizer, double validationFraction = 0) => new()
    {
        SequenceLength = Length,
        ValidationFraction = validationFraction,
        SequencesPerShard = 8,
        Tokenizer = tokenizer,
    };

    private PreparedCorpus Prepare(Tokenizer tokenizer, string output, double validationFraction = 0) =>
        CorpusPreparer.Prepare([_corpus], _temp.File(output), Options(tokenizer, validationFraction));

    private static List<int[]> ReadAll(TokenShardSet set)
    {
        var sequences = new List<int[]>();
        for (long i = 0; i < set.SequenceCount; i++)
        {
            var ids = new int[set.SequenceLength];
            set.CopySequence(i, ids);
            sequences.Add(ids);
        }
        return sequences;
    }

    [Fact]
    public void A_byte_corpus_holds_the_wrapped_utf8_bytes_of_its_documents()
    {
        PreparedCorpus prepared = Prepare(ByteTokenizer.Shared, "bytes");
        Assert.Equal(("bytes", 257), (prepared.Metadata.Tokenizer, prepared.Metadata.VocabularySize));
        Assert.Same(ByteTokenizer.Shared, prepared.Tokenizer);
        using TokenShardSet train = prepared.OpenTrain();
        Assert.Same(ByteTokenizer.Shared, train.Tokenizer);
        Assert.Equal(257, train.VocabularySize);
        Assert.All(train.Shards, shard => Assert.Equal(257, shard.Header.VocabularySize));

        // MDLM's wrap written out by hand over the bytes: each document then EOS, in chunks of L − 2 between BOS and EOS.
        int[] stream = Documents.SelectMany(d => ByteTokenizer.Shared.Encode(d).Append(EndOfText)).ToArray();
        List<int[]> expected = Enumerable.Range(0, stream.Length / (Length - 2))
            .Select(s => stream.Skip(s * (Length - 2)).Take(Length - 2).Prepend(EndOfText).Append(EndOfText).ToArray())
            .ToList();
        List<int[]> sequences = ReadAll(train);
        Assert.Equal(expected, sequences);
        Assert.All(sequences, s => Assert.All(s, id => Assert.InRange(id, 0, 256)));
        Assert.Equal(stream.Length, prepared.Metadata.Train.Tokens);
        string text = ByteTokenizer.Shared.Decode(sequences.SelectMany(s => s[1..^1]).ToArray(), skipSpecial: true);
        Assert.StartsWith(Documents[0] + Documents[1], text);
    }

    [Fact]
    public void The_tokenizer_is_part_of_the_input_key_so_a_byte_run_replaces_gpt2_shards()
    {
        PreparedCorpus gpt2 = Prepare(Gpt2Tokenizer.Shared, "out", validationFraction: 0.34);
        PreparedCorpus bytes = Prepare(ByteTokenizer.Shared, "out", validationFraction: 0.34);
        Assert.False(bytes.Reused);
        Assert.NotEqual(gpt2.Metadata.InputKey, bytes.Metadata.InputKey);
        Assert.Equal("bytes", PreparedCorpus.Open(_temp.File("out")).Metadata.Tokenizer);
        Assert.True(bytes.Metadata.Validation.Sequences > 0);
        using TokenShardSet validation = bytes.OpenValidation();
        Assert.All(ReadAll(validation), s => Assert.Equal((EndOfText, EndOfText), (s[0], s[^1])));
        Assert.True(Prepare(ByteTokenizer.Shared, "out", validationFraction: 0.34).Reused);
    }

    [Fact]
    public void Byte_shards_opened_for_gpt2_and_gpt2_shards_opened_for_bytes_say_which_and_what_to_do()
    {
        PreparedCorpus bytes = Prepare(ByteTokenizer.Shared, "bytes"), gpt2 = Prepare(Gpt2Tokenizer.Shared, "gpt2");

        var asGpt2 = Assert.Throws<InvalidDataException>(() => PreparedCorpus.Open(bytes.Directory, Gpt2Tokenizer.Shared));
        Assert.Contains($"{bytes.Directory} was prepared with the bytes tokenizer (vocabulary 257), but gpt2 (vocabulary 50257) " +
            "is asked for. Prepare the corpus again with the gpt2 tokenizer", asGpt2.Message);
        var asBytes = Assert.Throws<InvalidDataException>(() => PreparedCorpus.Open(gpt2.Directory, ByteTokenizer.Shared));
        Assert.Contains("prepared with the gpt2 tokenizer (vocabulary 50257), but bytes (vocabulary 257) is asked for", asBytes.Message);
        Assert.Equal("bytes", PreparedCorpus.Open(bytes.Directory, ByteTokenizer.Shared).Metadata.Tokenizer);

        var shards = Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(bytes.TrainShardPaths, Length, Gpt2Tokenizer.Shared));
        Assert.Contains("made with vocabulary size 257 (bytes), but 50257 (gpt2) is expected", shards.Message);
    }
}
