namespace IlgpuDiffusion.Data;

/// <summary>Settings of <see cref="CorpusPreparer"/>. Every setting that changes the shards is part of their input key.</summary>
public sealed record CorpusPreparationOptions
{
    /// <summary>L: ids per sequence, BOS and EOS included (MDLM: 1024).</summary>
    public int SequenceLength { get; init; } = 1024;

    /// <summary>Share of whole documents held out for validation, in [0, 1).</summary>
    public double ValidationFraction { get; init; } = 0.05;

    /// <summary>Seed of the train/validation split.</summary>
    public ulong Seed { get; init; }

    /// <summary>Sequences per shard file (16,384 × 1024 ids = 32 MiB).</summary>
    public int SequencesPerShard { get; init; } = 16384;

    /// <summary>The tokenizer of the shards (GPT-2 by default; <see cref="ByteTokenizer"/> for a byte-level corpus).</summary>
    public Tokenizer Tokenizer { get; init; } = Gpt2Tokenizer.Shared;

    /// <summary>How the inputs are read.</summary>
    public CorpusReaderOptions Reader { get; init; } = new();

    /// <summary>Threads that tokenize at once.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (SequenceLength < 3 || SequenceLength > 1 << 24)
            throw new ArgumentOutOfRangeException(nameof(SequenceLength), SequenceLength,
                "The sequence length must be in [3, 2^24]: BOS, at least one id, EOS.");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction,
                "The validation fraction must be in [0, 1).");
        ArgumentOutOfRangeException.ThrowIfLessThan(SequencesPerShard, 1, nameof(SequencesPerShard));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDegreeOfParallelism, 1, nameof(MaxDegreeOfParallelism));
        ArgumentNullException.ThrowIfNull(Tokenizer, nameof(Tokenizer));
        ArgumentNullException.ThrowIfNull(Reader, nameof(Reader));
        ArgumentException.ThrowIfNullOrEmpty(Reader.TextField, nameof(Reader.TextField));
    }
}
