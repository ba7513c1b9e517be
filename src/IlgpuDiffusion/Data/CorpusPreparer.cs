using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace IlgpuDiffusion.Data;

/// <summary>
/// Turns a corpus (files and folders of plain text, JSON lines, or Parquet with the <c>IlgpuDiffusion.Parquet</c>
/// package) into MDLM token shards: documents are tokenized in parallel, split into training and validation by whole
/// documents, wrapped into <c>[BOS] + chunk + [EOS]</c> sequences (<see cref="MdlmSequencePacker"/>) and written as
/// shards with a <c>metadata.json</c> beside them.
/// </summary>
/// <remarks>
/// Idempotent: the output folder records a key over the settings and every source file's path,
/// size and modification time; a re-run with the same key finds the shards intact and reuses
/// them. Atomic: shards are written into a staging folder and moved into place only when the
/// whole preparation succeeded; any failure deletes the staging folder (and the output folder,
/// if this run created it), and a later run removes what an interrupted one left. Concurrent: runs on one output
/// folder, in one process or several, take turns (a lock file in the folder); a run that finds the folder prepared
/// with its key by the run before it reuses it.
/// </remarks>
public static class CorpusPreparer
{
    private const int BatchDocuments = 256;
    private const int BatchCharacters = 1 << 20;
    private const string StagingPrefix = ".staging-";

    /// <summary>Prepares (or reuses) the token shards of <paramref name="inputs"/> in <paramref name="outputDirectory"/>.</summary>
    /// <param name="progress">Receives the tokenization's progress after every batch of documents (none when null).</param>
    /// <param name="cancellationToken">Stops the preparation between batches; nothing is left half-written.</param>
    /// <exception cref="FileNotFoundException">An input path does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The corpus is empty, too short for one sequence, or holds an invalid file (bad UTF-8, bad JSON,
    /// missing text field or column).
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static PreparedCorpus Prepare(IEnumerable<string> inputs, string outputDirectory, CorpusPreparationOptions? options = null,
        IProgress<PreparationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new CorpusPreparationOptions();
        options.Validate();
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        var clock = Stopwatch.StartNew();
        var reader = new CorpusReader(inputs, options.Reader);
        SourceFile[] sources = reader.Files.Select(SourceFileOf).ToArray();
        string key = InputKey(sources, options);
        string output = Path.GetFullPath(outputDirectory);
        if (TryReuse(output, key) is PreparedCorpus reused) return reused;

        TrainValidationSplit split;
        try
        {
            split = new TrainValidationSplit(reader.CountDocuments(cancellationToken), options.ValidationFraction, options.Seed);
        }
        catch (InvalidDataException tooFew) when (options.Reader.PlainText == PlainTextDocuments.FilePerDocument)
        {
            throw new InvalidDataException(tooFew.Message + " Plain text counts one document per file: to cut it at blank " +
                "lines, use PlainTextDocuments.BlankLineSeparated (prepare --documents blank-line).", tooFew);
        }
        bool outputExisted = Directory.Exists(output);
        PreparedCorpus? prepared = null;
        try
        {
            using (var writing = PreparationLock.Acquire(output, cancellationToken))
            {
                // Another run may have prepared the same corpus while this one waited for the folder.
                prepared = TryReuse(output, key) ?? Write(reader, split, output, key, sources, options, clock, progress, cancellationToken);
            }
            return prepared;
        }
        finally
        {
            if (prepared is null && !outputExisted) RemoveIfOnlyTheLockIsLeft(output);
        }
    }

    /// <summary>Tokenizes into a staging folder of <paramref name="output"/>, then publishes; the caller holds the folder's lock.</summary>
    private static PreparedCorpus Write(CorpusReader reader, TrainValidationSplit split, string output, string key, SourceFile[] sources,
        CorpusPreparationOptions options, Stopwatch clock, IProgress<PreparationProgress>? progress, CancellationToken cancellationToken)
    {
        RemoveLeftovers(output);
        string staging = Path.Combine(output, $"{StagingPrefix}{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            (SplitSummary train, SplitSummary validation) = Tokenize(reader, split, staging, options, progress, cancellationToken);
            var metadata = new ShardMetadata
            {
                Tokenizer = options.Tokenizer.Name,
                VocabularySize = options.Tokenizer.VocabularySize,
                SequenceLength = options.SequenceLength,
                ValidationFraction = options.ValidationFraction,
                Seed = options.Seed,
                InputKey = key,
                Sources = sources,
                Train = train,
                Validation = validation,
                CreatedUtc = DateTimeOffset.UtcNow,
                ElapsedSeconds = clock.Elapsed.TotalSeconds,
            };
            Publish(staging, output, metadata);
            Directory.Delete(staging, recursive: true);
            return new PreparedCorpus(output, metadata, Reused: false);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Removes an output folder that a failed run created, unless another run has put something besides the lock in it.</summary>
    private static void RemoveIfOnlyTheLockIsLeft(string output)
    {
        if (!Directory.Exists(output)) return;
        string[] entries = Directory.GetFileSystemEntries(output);
        if (entries.Any(entry => Path.GetFileName(entry) != PreparationLock.FileName)) return;
        try
        {
            Directory.Delete(output, recursive: true);
        }
        catch (IOException)
        {
            // Another run took the folder meanwhile: it is theirs now.
        }
    }

    /// <summary>The key that identifies a preparation of <paramref name="sources"/> with <paramref name="options"/>.</summary>
    public static string InputKey(IEnumerable<SourceFile> sources, CorpusPreparationOptions options)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"format={TokenShardHeader.Version};tokenizer={options.Tokenizer.Name};vocab={options.Tokenizer.VocabularySize};");
        text.Append(CultureInfo.InvariantCulture,
            $"L={options.SequenceLength};validation={options.ValidationFraction:R};seed={options.Seed};");
        text.Append(CultureInfo.InvariantCulture, $"perShard={options.SequencesPerShard};format={options.Reader.Format?.Name ?? "Auto"};");
        text.Append(CultureInfo.InvariantCulture, $"plain={options.Reader.PlainText};field={options.Reader.TextField}\n");
        foreach (SourceFile source in sources)
            text.Append(CultureInfo.InvariantCulture, $"{source.Path}\t{source.Bytes}\t{source.LastWriteUtc.Ticks}\n");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static SourceFile SourceFileOf(string path)
    {
        var info = new FileInfo(path);
        return new SourceFile(path, info.Length, info.LastWriteTimeUtc);
    }

    /// <summary>Deletes what an interrupted earlier run left: staging folders and temporary metadata files.</summary>
    private static void RemoveLeftovers(string output)
    {
        foreach (string folder in Directory.EnumerateDirectories(output, StagingPrefix + "*")) Directory.Delete(folder, recursive: true);
        foreach (string file in Directory.EnumerateFiles(output, ShardMetadata.FileName + ".*.tmp")) File.Delete(file);
    }

    private static PreparedCorpus? TryReuse(string output, string key)
    {
        if (!File.Exists(Path.Combine(output, ShardMetadata.FileName))) return null;
        try
        {
            var existing = PreparedCorpus.Open(output);
            if (existing.Metadata.InputKey != key) return null;
            existing.Verify();
            return existing with { Reused = true };
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return null;
        }
    }

    private static (SplitSummary Train, SplitSummary Validation) Tokenize(CorpusReader reader, TrainValidationSplit split, string staging,
        CorpusPreparationOptions options, IProgress<PreparationProgress>? progress, CancellationToken cancellationToken)
    {
        Tokenizer tokenizer = options.Tokenizer;
        using var trainShards = new ShardSeriesWriter(staging, PreparedCorpus.TrainSplit, options.SequenceLength,
            options.SequencesPerShard, tokenizer.VocabularySize);
        using var validationShards = new ShardSeriesWriter(staging, PreparedCorpus.ValidationSplit, options.SequenceLength,
            options.SequencesPerShard, tokenizer.VocabularySize);
        var train = new MdlmSequencePacker(options.SequenceLength, tokenizer, trainShards.Write);
        var validation = new MdlmSequencePacker(options.SequenceLength, tokenizer, validationShards.Write);
        var parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
            CancellationToken = cancellationToken,
        };
        var batch = new List<CorpusDocument>(BatchDocuments);
        using var tokenizers = new ThreadLocal<Tokenizer>(tokenizer.ForParallelEncoding);
        var clock = Stopwatch.StartNew();
        int documentIndex = 0;
        long characters = 0;
        foreach (CorpusDocument document in reader.ReadDocuments())
        {
            batch.Add(document);
            characters += document.Text.Length;
            if (batch.Count < BatchDocuments && characters < BatchCharacters) continue;
            TokenizeBatch();
            characters = 0;
        }
        TokenizeBatch();

        void TokenizeBatch()
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ids = new int[batch.Count][];
            Parallel.For(0, batch.Count, parallel, i => ids[i] = tokenizers.Value!.Encode(batch[i].Text));
            foreach (int[] document in ids)
            {
                if (documentIndex >= split.Documents)
                    throw new InvalidDataException($"{reader.Describe()}: the corpus changed while it was being prepared. " +
                        "Run the preparation again.");
                (split.IsValidation(documentIndex++) ? validation : train).AddDocument(document);
            }
            batch.Clear();
            progress?.Report(new PreparationProgress(reader.Describe(), documentIndex, split.Documents, train.Tokens + validation.Tokens,
                clock.Elapsed));
        }

        RequireOneSequence(reader, train, "training", options);
        if (split.ValidationDocuments > 0) RequireOneSequence(reader, validation, "validation", options);
        trainShards.Complete();
        validationShards.Complete();
        return (Summary(train, trainShards), Summary(validation, validationShards));
    }

    private static void RequireOneSequence(CorpusReader reader, MdlmSequencePacker packer, string splitName,
        CorpusPreparationOptions options)
    {
        if (packer.Sequences > 0) return;
        throw new InvalidDataException($"Corpus too short: the {splitName} split of {reader.Describe()} has {packer.Documents} " +
            $"document(s) with {packer.Tokens} tokens (EOS included), but one sequence of length {options.SequenceLength} " +
            $"needs {options.SequenceLength - 2}. " +
            "Use more text, a shorter sequence length" + (splitName == "validation" ? " or a larger validation fraction." : "."));
    }

    private static SplitSummary Summary(MdlmSequencePacker packer, ShardSeriesWriter shards) =>
        new(packer.Documents, packer.Tokens, packer.Sequences, packer.PendingTokens, shards.Names);

    /// <summary>Replaces any older preparation in <paramref name="output"/> with the staged shards, metadata last.</summary>
    private static void Publish(string staging, string output, ShardMetadata metadata)
    {
        string oldMetadataPath = Path.Combine(output, ShardMetadata.FileName);
        if (File.Exists(oldMetadataPath))
        {
            IEnumerable<string> oldShards = [];
            try
            {
                ShardMetadata old = ShardMetadata.Read(output);
                oldShards = old.Train.Shards.Concat(old.Validation.Shards);
            }
            catch (InvalidDataException)
            {
                // Unreadable old metadata lists no shards to remove; same-named shards are replaced below.
            }
            File.Delete(oldMetadataPath);
            foreach (string shard in oldShards) File.Delete(Path.Combine(output, Path.GetFileName(shard)));
        }
        foreach (string shard in metadata.Train.Shards.Concat(metadata.Validation.Shards))
            File.Move(Path.Combine(staging, shard), Path.Combine(output, shard), overwrite: true);
        metadata.Write(output);
    }
}
