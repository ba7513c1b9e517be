using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class CorpusPreparerTests : IDisposable
{
    private const int E = Gpt2Tokenizer.EndOfText;

    private static readonly string[] Documents =
    [
        "Fellow-Citizens of the Senate and House of Representatives:",
        "The abundant fruits of another year have blessed our country with plenty.",
        "Ünïcödé text 🎉 with   runs of spaces\n\nand two paragraphs.",
        "A short one.",
        "The progress of public credit is witnessed by a considerable rise of American stock abroad.",
        "We the People of the United States, in Order to form a more perfect Union.",
    ];

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static CorpusPreparationOptions Options(int sequenceLength = 8, double validationFraction = 0) =>
        new() { SequenceLength = sequenceLength, ValidationFraction = validationFraction, SequencesPerShard = 4 };

    private string WriteCorpus()
    {
        for (int i = 0; i < Documents.Length; i++) _temp.Write($"corpus/{i:D2}.txt", Documents[i]);
        return _temp.File("corpus");
    }

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

    /// <summary>MDLM wrapping written out by hand: doc ids + EOS, concatenated, chunks of L-2 between BOS and EOS.</summary>
    private static List<int[]> ExpectedWrap(IEnumerable<string> documents, int sequenceLength)
    {
        int[] stream = documents.SelectMany(d => Gpt2Tokenizer.Shared.Encode(d).Append(E)).ToArray();
        int chunk = sequenceLength - 2;
        return Enumerable.Range(0, stream.Length / chunk)
            .Select(s => stream.Skip(s * chunk).Take(chunk).Prepend(E).Append(E).ToArray())
            .ToList();
    }

    /// <summary>The names in <paramref name="folder"/>, sorted, without the lock file that preparations take turns with.</summary>
    private static string[] Entries(string folder) => Directory.GetFileSystemEntries(folder).Select(Path.GetFileName)
        .Where(name => name != ".prepare.lock").Order(StringComparer.Ordinal).ToArray()!;

    /// <summary>Receives reports synchronously (unlike <see cref="Progress{T}"/>, which posts them to the thread pool).</summary>
    private sealed class Recorder(Action<PreparationProgress>? onReport = null) : IProgress<PreparationProgress>
    {
        public List<PreparationProgress> Reports { get; } = [];

        public void Report(PreparationProgress value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    /// <summary>A JSON-lines corpus of <paramref name="count"/> short documents (more than one tokenization batch of 256).</summary>
    private string WriteManyDocuments(int count)
    {
        var lines = Enumerable.Range(0, count).Select(i => $"{{\"text\":\"Document {i} of the corpus, with a few words.\"}}");
        return _temp.Write("many/documents.jsonl", string.Join("\n", lines) + "\n");
    }

    [Fact]
    public void Progress_counts_documents_and_tokens_batch_by_batch_up_to_the_whole_corpus()
    {
        string corpus = WriteManyDocuments(600);
        var recorder = new Recorder();
        PreparedCorpus prepared = CorpusPreparer.Prepare([corpus], _temp.File("out"), Options(sequenceLength: 16, validationFraction: 0.1),
            recorder);
        Assert.Equal([256L, 512L, 600L], recorder.Reports.Select(r => r.Documents));
        Assert.All(recorder.Reports, r => Assert.Equal(600, r.TotalDocuments));
        Assert.Equal(prepared.Metadata.Train.Tokens + prepared.Metadata.Validation.Tokens, recorder.Reports[^1].Tokens);
        Assert.True(recorder.Reports.Zip(recorder.Reports.Skip(1)).All(pair => pair.First.Tokens < pair.Second.Tokens));
        Assert.Contains("documents.jsonl", recorder.Reports[0].Source, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cancelled_preparation_leaves_nothing_behind()
    {
        string corpus = WriteManyDocuments(600);
        string output = _temp.File("cancelled");
        using var cancellation = new CancellationTokenSource();
        var recorder = new Recorder(_ => cancellation.Cancel());
        Assert.ThrowsAny<OperationCanceledException>(() =>
            CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 16), recorder, cancellation.Token));
        Assert.Single(recorder.Reports);
        Assert.False(Directory.Exists(output));

        Assert.ThrowsAny<OperationCanceledException>(() =>
            CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 16), cancellationToken: new CancellationToken(true)));
        Assert.False(Directory.Exists(output));
        Assert.True(CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 16)).Metadata.Train.Sequences > 0);
    }

    [Fact]
    public async Task A_second_preparation_of_one_folder_waits_for_the_first_and_shares_its_shards()
    {
        string corpus = WriteManyDocuments(600);
        string output = _temp.File("shared");
        using var firstIsWriting = new ManualResetEventSlim();
        // The first run pauses in its first batch, with its staging folder in place, while the second one starts.
        var first = Task.Run(() => CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 16), new Recorder(report =>
        {
            if (firstIsWriting.IsSet) return;
            firstIsWriting.Set();
            Thread.Sleep(1500);
        })));
        Assert.True(firstIsWriting.Wait(TimeSpan.FromSeconds(30)));
        var second = Task.Run(() => CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 16)));

        PreparedCorpus written = await first, shared = await second;
        Assert.False(written.Reused);
        Assert.True(shared.Reused);
        Assert.Equal(written.Metadata.Train.Sequences, shared.Metadata.Train.Sequences);
        shared.Verify();
        Assert.Empty(Directory.EnumerateDirectories(output, ".staging-*"));
    }

    [Fact]
    public void One_plain_text_file_that_is_all_validation_points_at_blank_line_documents()
    {
        string file = _temp.Write("input.txt", "First paragraph of a speech.\n\nSecond paragraph.\n");
        string message = Assert.Throws<InvalidDataException>(() =>
            CorpusPreparer.Prepare([file], _temp.File("out"), Options(validationFraction: 0.1))).Message;
        Assert.Contains("holds out all 1 document(s)", message);
        Assert.Contains("prepare --documents blank-line", message);
    }

    [Fact]
    public void Shards_hold_exactly_the_MDLM_wrap_of_the_corpus()
    {
        PreparedCorpus prepared = CorpusPreparer.Prepare([WriteCorpus()], _temp.File("out"), Options());
        using TokenShardSet train = prepared.OpenTrain();
        List<int[]> expected = ExpectedWrap(Documents, 8);
        Assert.Equal(expected, ReadAll(train));
        long tokens = Documents.Sum(d => Gpt2Tokenizer.Shared.Encode(d).Length + 1);
        Assert.Equal(new SplitSummary(6, tokens, expected.Count, tokens % 6, prepared.Metadata.Train.Shards), prepared.Metadata.Train);
        Assert.Equal((expected.Count + 3) / 4, prepared.Metadata.Train.Shards.Count);
        Assert.Empty(prepared.ValidationShardPaths);
        Assert.False(prepared.Reused);
        Assert.Equal(Documents.Length, prepared.Metadata.Sources.Count);
        Assert.Equal("gpt2", prepared.Metadata.Tokenizer);
    }

    [Fact]
    public void Validation_holds_the_wrap_of_the_held_out_documents_and_is_deterministic()
    {
        PreparedCorpus first = CorpusPreparer.Prepare([WriteCorpus()], _temp.File("a"), Options(validationFraction: 0.34));
        PreparedCorpus second = CorpusPreparer.Prepare([_temp.File("corpus")], _temp.File("b"), Options(validationFraction: 0.34));
        var split = new TrainValidationSplit(Documents.Length, 0.34, seed: 0);
        using (TokenShardSet validation = first.OpenValidation())
        using (TokenShardSet train = first.OpenTrain())
        {
            Assert.Equal(ExpectedWrap(Documents.Where((_, i) => split.IsValidation(i)), 8), ReadAll(validation));
            Assert.Equal(ExpectedWrap(Documents.Where((_, i) => !split.IsValidation(i)), 8), ReadAll(train));
        }
        Assert.Equal(2, first.Metadata.Validation.Documents);
        Assert.Equal(first.Metadata.InputKey, second.Metadata.InputKey);
        foreach (string shard in first.Metadata.Train.Shards.Concat(first.Metadata.Validation.Shards))
            Assert.Equal(File.ReadAllBytes(Path.Combine(first.Directory, shard)), File.ReadAllBytes(Path.Combine(second.Directory, shard)));
    }

    [Fact]
    public void A_rerun_on_the_same_inputs_reuses_the_shards()
    {
        string corpus = WriteCorpus();
        PreparedCorpus first = CorpusPreparer.Prepare([corpus], _temp.File("out"), Options());
        DateTime written = File.GetLastWriteTimeUtc(first.TrainShardPaths[0]);
        PreparedCorpus again = CorpusPreparer.Prepare([corpus], _temp.File("out"), Options());
        Assert.True(again.Reused);
        Assert.Equal(first.Metadata.InputKey, again.Metadata.InputKey);
        Assert.Equal(written, File.GetLastWriteTimeUtc(again.TrainShardPaths[0]));
    }

    [Fact]
    public void Changed_settings_or_inputs_or_a_damaged_shard_prepare_again_and_leave_no_stale_files()
    {
        string corpus = WriteCorpus();
        string output = _temp.File("out");
        CorpusPreparer.Prepare([corpus], output, Options());
        PreparedCorpus longer = CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 16));
        Assert.False(longer.Reused);
        Assert.Equal(
            longer.Metadata.Train.Shards.Append(ShardMetadata.FileName).Order(StringComparer.Ordinal),
            Entries(output));

        File.AppendAllText(Path.Combine(corpus, "00.txt"), " More words.");
        Assert.False(CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 16)).Reused);

        string shard = Path.Combine(output, longer.Metadata.Train.Shards[0]);
        File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..40]);
        PreparedCorpus repaired = CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 16));
        Assert.False(repaired.Reused);
        repaired.Verify();
    }

    [Fact]
    public async Task Mixed_formats_in_one_folder_are_read_in_path_order()
    {
        _temp.Write("mixed/a.txt", Documents[0]);
        _temp.Write("mixed/b.jsonl", $"{{\"text\":\"{Documents[1]}\"}}\n{{\"text\":\"{Documents[3]}\"}}\n");
        await ParquetFiles.WriteTextAsync(_temp.File("mixed/c.parquet"), "text", [Documents[4], Documents[5]]);
        PreparedCorpus prepared = CorpusPreparer.Prepare([_temp.File("mixed")], _temp.File("out"),
            Options() with { Reader = new CorpusReaderOptions().WithParquet() });
        using TokenShardSet train = prepared.OpenTrain();
        Assert.Equal(ExpectedWrap([Documents[0], Documents[1], Documents[3], Documents[4], Documents[5]], 8), ReadAll(train));
    }

    [Fact]
    public void A_corpus_too_short_for_one_sequence_is_named_and_leaves_nothing_behind()
    {
        string corpus = WriteCorpus();
        string output = _temp.File("out");
        var error = Assert.Throws<InvalidDataException>(() => CorpusPreparer.Prepare([corpus], output, Options(sequenceLength: 4096)));
        Assert.Contains(corpus, error.Message);
        Assert.Contains("too short", error.Message);
        Assert.Contains("4094", error.Message);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void A_validation_split_too_short_for_one_sequence_is_an_error()
    {
        string corpus = WriteCorpus();
        var error = Assert.Throws<InvalidDataException>(() => CorpusPreparer.Prepare([corpus], _temp.File("out"),
            Options(sequenceLength: 64, validationFraction: 0.1)));
        Assert.Contains("validation split", error.Message);
        Assert.False(Directory.Exists(_temp.File("out")));
    }

    [Fact]
    public void Invalid_UTF8_fails_before_anything_is_written_and_keeps_an_older_preparation()
    {
        string corpus = WriteCorpus();
        string output = _temp.File("out");
        PreparedCorpus good = CorpusPreparer.Prepare([corpus], output, Options());
        string bad = _temp.Write("corpus/99.txt", [(byte)'a', 0xFF, (byte)'b']);
        var error = Assert.Throws<InvalidDataException>(() => CorpusPreparer.Prepare([corpus], output, Options()));
        Assert.Contains(bad, error.Message);
        Assert.Contains("not valid UTF-8", error.Message);
        PreparedCorpus.Open(output).Verify();
        Assert.Equal(good.Metadata.Train.Shards.Count + 1, Entries(output).Length);
    }

    [Fact]
    public void Missing_and_empty_inputs_are_named_and_create_no_output()
    {
        string missing = _temp.File("absent");
        var notFound = Assert.Throws<FileNotFoundException>(() => CorpusPreparer.Prepare([missing], _temp.File("out"), Options()));
        Assert.Contains(missing, notFound.Message);
        string empty = _temp.Write("empty.txt", "");
        var noDocuments = Assert.Throws<InvalidDataException>(() => CorpusPreparer.Prepare([empty], _temp.File("out"), Options()));
        Assert.Contains(empty, noDocuments.Message);
        Assert.False(Directory.Exists(_temp.File("out")));
    }

    [Fact]
    public void A_failed_run_into_an_existing_folder_keeps_the_folder_and_its_other_files()
    {
        string corpus = WriteCorpus();
        string keep = _temp.Write("out/notes.txt", "mine");
        Assert.Throws<InvalidDataException>(() => CorpusPreparer.Prepare([corpus], _temp.File("out"), Options(sequenceLength: 4096)));
        Assert.Equal([Path.GetFileName(keep)], Entries(_temp.File("out")));
    }

    [Fact]
    public void Leftovers_of_an_interrupted_run_are_removed_by_the_next_run()
    {
        string corpus = WriteCorpus();
        _temp.Write("out/.staging-0123/train-00000.tokens.abc.tmp", "partial");
        _temp.Write($"out/{ShardMetadata.FileName}.abc.tmp", "{");
        PreparedCorpus prepared = CorpusPreparer.Prepare([corpus], _temp.File("out"), Options());
        Assert.Equal(
            prepared.Metadata.Train.Shards.Append(ShardMetadata.FileName).Order(StringComparer.Ordinal),
            Entries(_temp.File("out")));
    }

    [Fact]
    public void Metadata_of_another_tokenizer_or_broken_metadata_is_named()
    {
        PreparedCorpus prepared = CorpusPreparer.Prepare([WriteCorpus()], _temp.File("out"), Options());
        string metadataPath = Path.Combine(prepared.Directory, ShardMetadata.FileName);
        (prepared.Metadata with { Tokenizer = "llama3" }).Write(prepared.Directory);
        var foreign = Assert.Throws<InvalidDataException>(() => PreparedCorpus.Open(prepared.Directory));
        Assert.Contains(metadataPath, foreign.Message);
        Assert.Contains("llama3", foreign.Message);
        File.WriteAllText(metadataPath, "{ not json");
        var broken = Assert.Throws<InvalidDataException>(() => PreparedCorpus.Open(prepared.Directory));
        Assert.Contains(metadataPath, broken.Message);
        Assert.False(CorpusPreparer.Prepare([_temp.File("corpus")], _temp.File("out"), Options()).Reused);
    }

    [Fact]
    public void Opening_a_folder_without_a_preparation_names_it()
    {
        Directory.CreateDirectory(_temp.File("nothing"));
        var error = Assert.Throws<FileNotFoundException>(() => PreparedCorpus.Open(_temp.File("nothing")));
        Assert.Contains(_temp.File("nothing"), error.Message);
    }
}
