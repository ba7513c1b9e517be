using System.Diagnostics;
using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

/// <summary>Extracts the embedded corpus and prepares it once (L = 128) for all tests of the class.</summary>
public sealed class EmbeddedCorpusFixture : IDisposable
{
    public static readonly CorpusPreparationOptions Options = new() { SequenceLength = 128 };

    private readonly TempDirectory _cache = new();

    public EmbeddedCorpusFixture()
    {
        var clock = Stopwatch.StartNew();
        Prepared = EmbeddedCorpus.PrepareStateOfTheUnion(Options, _cache.Path);
        FirstRun = clock.Elapsed;
    }

    public string CachePath => _cache.Path;

    public PreparedCorpus Prepared { get; }

    public TimeSpan FirstRun { get; }

    public void Dispose() => _cache.Dispose();
}

public sealed class EmbeddedCorpusTests(EmbeddedCorpusFixture fixture) : IClassFixture<EmbeddedCorpusFixture>
{
    [Fact]
    public void Extraction_gives_the_233_addresses_as_text_files()
    {
        string text = EmbeddedCorpus.ExtractStateOfTheUnion(fixture.CachePath);
        string[] files = Directory.GetFiles(text).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(EmbeddedCorpus.StateOfTheUnionDocuments, files.Length);
        Assert.Equal("1790_george_washington_n.txt", files[0]);
        Assert.Equal("2021_joseph_r_biden_d.txt", files[^1]);
        Assert.Equal(10_761_413, files.Sum(f => new FileInfo(Path.Combine(text, f)).Length));
        Assert.StartsWith("Fellow-Citizens of the Senate and House of Representatives:", File.ReadAllText(Path.Combine(text, files[0])));
    }

    [Fact]
    public void Preparation_covers_every_address_with_about_two_million_tokens()
    {
        ShardMetadata metadata = fixture.Prepared.Metadata;
        Assert.Equal(233, metadata.Train.Documents + metadata.Validation.Documents);
        Assert.Equal(12, metadata.Validation.Documents);
        long tokens = metadata.Train.Tokens + metadata.Validation.Tokens;
        Assert.InRange(tokens, 2_000_000, 2_150_000);
        Assert.Equal(metadata.Train.Tokens / 126, metadata.Train.Sequences);
        Assert.Equal(metadata.Validation.Tokens / 126, metadata.Validation.Sequences);
        fixture.Prepared.Verify();
    }

    [Fact]
    public void Sequences_are_wrapped_GPT2_text()
    {
        using TokenShardSet train = fixture.Prepared.OpenTrain();
        var ids = new int[128];
        train.CopySequence(0, ids);
        Assert.Equal(Gpt2Tokenizer.Bos, ids[0]);
        Assert.Equal(Gpt2Tokenizer.Eos, ids[^1]);
        Assert.StartsWith("Fellow-Citizens of the Senate", Gpt2Tokenizer.Shared.Decode(ids, skipSpecial: true));
        using TokenShardSet validation = fixture.Prepared.OpenValidation();
        Assert.Equal(fixture.Prepared.Metadata.Validation.Sequences, validation.SequenceCount);
    }

    [Fact]
    public void A_second_request_reuses_the_cached_shards()
    {
        var clock = Stopwatch.StartNew();
        PreparedCorpus again = EmbeddedCorpus.PrepareStateOfTheUnion(EmbeddedCorpusFixture.Options, fixture.CachePath);
        Assert.True(again.Reused);
        Assert.Equal(fixture.Prepared.Directory, again.Directory);
        Assert.True(clock.Elapsed < fixture.FirstRun, $"reuse took {clock.Elapsed}, first preparation {fixture.FirstRun}");
    }

    [Fact]
    public void Each_tokenizer_and_sequence_length_gets_its_own_cache_folder()
    {
        string shards = Path.Combine(fixture.CachePath, "corpora", EmbeddedCorpus.StateOfTheUnionName, "shards");
        Assert.StartsWith(Path.Combine(shards, "gpt2-L128-"), fixture.Prepared.Directory);
        PreparedCorpus bytes = EmbeddedCorpus.PrepareStateOfTheUnion(
            new CorpusPreparationOptions { SequenceLength = 128, Tokenizer = ByteTokenizer.Shared }, fixture.CachePath);
        Assert.StartsWith(Path.Combine(shards, "bytes-L128-"), bytes.Directory);
        Assert.Equal(10_761_413 + 233, bytes.Metadata.Train.Tokens + bytes.Metadata.Validation.Tokens); // every byte and an EOS each
        Assert.True(EmbeddedCorpus.PrepareStateOfTheUnion(EmbeddedCorpusFixture.Options, fixture.CachePath).Reused);
    }
}
