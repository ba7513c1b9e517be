namespace IlgpuDiffusion.Data;

/// <summary>A folder of token shards made by <see cref="CorpusPreparer"/>, described by its <see cref="ShardMetadata"/>.</summary>
/// <param name="Directory">Full path of the folder.</param>
/// <param name="Metadata">Its <c>metadata.json</c>.</param>
/// <param name="Reused">True when <see cref="CorpusPreparer.Prepare"/> found these shards already made and did no work.</param>
public sealed record PreparedCorpus(string Directory, ShardMetadata Metadata, bool Reused)
{
    /// <summary>File name prefix of training shards.</summary>
    public const string TrainSplit = "train";

    /// <summary>File name prefix of validation shards.</summary>
    public const string ValidationSplit = "validation";

    /// <summary>L: ids per sequence.</summary>
    public int SequenceLength => Metadata.SequenceLength;

    /// <summary>Full paths of the training shards.</summary>
    public IReadOnlyList<string> TrainShardPaths => Metadata.Train.Shards.Select(FullPath).ToArray();

    /// <summary>Full paths of the validation shards (none when no document was held out).</summary>
    public IReadOnlyList<string> ValidationShardPaths => Metadata.Validation.Shards.Select(FullPath).ToArray();

    /// <summary>The tokenizer that produced the ids (<see cref="ShardMetadata.Tokenizer"/>).</summary>
    public Tokenizer Tokenizer => Tokenizer.FromName(Metadata.Tokenizer);

    /// <summary>
    /// Opens the prepared corpus in <paramref name="directory"/> (its metadata; shards open on demand), requiring it to be
    /// made by <paramref name="tokenizer"/> when one is given.
    /// </summary>
    /// <exception cref="FileNotFoundException">The folder holds no finished preparation.</exception>
    /// <exception cref="InvalidDataException">
    /// The metadata is invalid, was made by another format version or an unknown tokenizer, or by another tokenizer than
    /// <paramref name="tokenizer"/>.
    /// </exception>
    public static PreparedCorpus Open(string directory, Tokenizer? tokenizer = null)
    {
        string fullPath = Path.GetFullPath(directory);
        ShardMetadata metadata = ShardMetadata.Read(fullPath);
        string metadataPath = Path.Combine(fullPath, ShardMetadata.FileName);
        Tokenizer? made = Tokenizer.Find(metadata.Tokenizer);
        if (metadata.FormatVersion != TokenShardHeader.Version || made is null || metadata.VocabularySize != made.VocabularySize)
            throw new InvalidDataException($"{metadataPath}: prepared with format {metadata.FormatVersion}, " +
                $"tokenizer {metadata.Tokenizer} (vocabulary {metadata.VocabularySize}); " +
                $"this library reads format {TokenShardHeader.Version} with the tokenizers " +
                $"{string.Join(", ", Tokenizer.Names.Select(n => $"{n} ({Tokenizer.FromName(n).VocabularySize})"))}. " +
                "Prepare the corpus again.");
        if (tokenizer is not null && tokenizer.Name != made.Name)
            throw new InvalidDataException($"{fullPath} was prepared with the {made.Name} tokenizer (vocabulary {made.VocabularySize}), " +
                $"but {tokenizer.Name} (vocabulary {tokenizer.VocabularySize}) is asked for. Prepare the corpus again with the " +
                $"{tokenizer.Name} tokenizer, or use it with a model made for {made.Name}.");
        return new PreparedCorpus(fullPath, metadata, Reused: false);
    }

    /// <summary>Opens the training shards.</summary>
    public TokenShardSet OpenTrain() => TokenShardSet.Open(TrainShardPaths, SequenceLength, Tokenizer);

    /// <summary>Opens the validation shards.</summary>
    public TokenShardSet OpenValidation() => TokenShardSet.Open(ValidationShardPaths, SequenceLength, Tokenizer);

    /// <summary>Checks that every shard exists with a valid header and the sequence counts the metadata promises.</summary>
    /// <exception cref="InvalidDataException">A shard is missing, foreign, truncated or holds another count.</exception>
    public void Verify()
    {
        VerifySplit(TrainShardPaths, Metadata.Train);
        VerifySplit(ValidationShardPaths, Metadata.Validation);
    }

    private void VerifySplit(IReadOnlyList<string> paths, SplitSummary summary)
    {
        long sequences = 0;
        foreach (string path in paths)
        {
            if (!File.Exists(path))
                throw new InvalidDataException($"{path}: token shard listed in {ShardMetadata.FileName} is missing. " +
                    "Prepare the corpus again.");
            sequences += TokenShardHeader.Read(path, Metadata.VocabularySize, SequenceLength).SequenceCount;
        }
        if (sequences != summary.Sequences)
            throw new InvalidDataException($"{Directory}: the shards hold {sequences} sequences, {ShardMetadata.FileName} " +
                $"promises {summary.Sequences}. Prepare the corpus again.");
    }

    private string FullPath(string shardName) => Path.Combine(Directory, Path.GetFileName(shardName));
}
