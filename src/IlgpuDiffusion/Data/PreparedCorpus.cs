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

    /// <summary>Opens the prepared corpus in <paramref name="directory"/> (its metadata; shards open on demand).</summary>
    /// <exception cref="FileNotFoundException">The folder holds no finished preparation.</exception>
    /// <exception cref="InvalidDataException">The metadata is invalid or was made by another tokenizer or format version.</exception>
    public static PreparedCorpus Open(string directory)
    {
        string fullPath = Path.GetFullPath(directory);
        ShardMetadata metadata = ShardMetadata.Read(fullPath);
        string metadataPath = Path.Combine(fullPath, ShardMetadata.FileName);
        if (metadata.FormatVersion != TokenShardHeader.Version || metadata.Tokenizer != Gpt2Tokenizer.Name
            || metadata.VocabularySize != Gpt2Tokenizer.VocabularySize)
            throw new InvalidDataException($"{metadataPath}: prepared with format {metadata.FormatVersion}, " +
                $"tokenizer {metadata.Tokenizer} (vocabulary {metadata.VocabularySize}); " +
                $"this library needs format {TokenShardHeader.Version}, {Gpt2Tokenizer.Name} " +
                $"({Gpt2Tokenizer.VocabularySize}). Prepare the corpus again.");
        return new PreparedCorpus(fullPath, metadata, Reused: false);
    }

    /// <summary>Opens the training shards.</summary>
    public TokenShardSet OpenTrain() => TokenShardSet.Open(TrainShardPaths, SequenceLength, Metadata.VocabularySize);

    /// <summary>Opens the validation shards.</summary>
    public TokenShardSet OpenValidation() => TokenShardSet.Open(ValidationShardPaths, SequenceLength, Metadata.VocabularySize);

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
