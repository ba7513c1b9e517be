using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuDiffusion.Files;

namespace IlgpuDiffusion.Data;

/// <summary>
/// The <c>metadata.json</c> beside a prepared corpus's shards: what went in (source files,
/// settings, tokenizer), what came out (documents, tokens, sequences and shard files per split)
/// and a key over all inputs that lets a re-run reuse the shards. Written last, atomically: a
/// folder without it holds no finished preparation.
/// </summary>
public sealed record ShardMetadata
{
    /// <summary>File name of the metadata inside a prepared corpus folder.</summary>
    public const string FileName = "metadata.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Token shard format version (<see cref="TokenShardHeader.Version"/>).</summary>
    public int FormatVersion { get; init; } = TokenShardHeader.Version;

    /// <summary>Name of the tokenizer that produced the ids (<see cref="Data.Tokenizer.Names"/>; gpt2 in metadata without it).</summary>
    public string Tokenizer { get; init; } = Gpt2Tokenizer.Name;

    /// <summary>The tokenizer's vocabulary size, recorded in every shard header.</summary>
    public int VocabularySize { get; init; } = Gpt2Tokenizer.VocabularySize;

    /// <summary>L: ids per sequence.</summary>
    public required int SequenceLength { get; init; }

    /// <summary>Share of documents held out for validation.</summary>
    public required double ValidationFraction { get; init; }

    /// <summary>Seed of the train/validation split.</summary>
    public required ulong Seed { get; init; }

    /// <summary>Hex SHA-256 over the settings and each source file's path, size and modification time.</summary>
    public required string InputKey { get; init; }

    /// <summary>The corpus files read, in order.</summary>
    public required IReadOnlyList<SourceFile> Sources { get; init; }

    /// <summary>What the training split produced.</summary>
    public required SplitSummary Train { get; init; }

    /// <summary>What the validation split produced.</summary>
    public required SplitSummary Validation { get; init; }

    /// <summary>When the preparation finished.</summary>
    public required DateTimeOffset CreatedUtc { get; init; }

    /// <summary>Wall-clock seconds the preparation took (reading, tokenizing, writing).</summary>
    public required double ElapsedSeconds { get; init; }

    /// <summary>Tokens (with the EOS after each document) per second of preparation.</summary>
    [JsonIgnore]
    public double TokensPerSecond => ElapsedSeconds > 0 ? (Train.Tokens + Validation.Tokens) / ElapsedSeconds : 0;

    /// <summary>Reads the metadata of the prepared corpus in <paramref name="directory"/>.</summary>
    /// <exception cref="FileNotFoundException">The folder holds no metadata (no finished preparation).</exception>
    /// <exception cref="InvalidDataException">The metadata is not valid.</exception>
    public static ShardMetadata Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"No prepared corpus in {directory}: {FileName} is missing. Prepare the corpus first.", path);
        try
        {
            return JsonSerializer.Deserialize<ShardMetadata>(File.ReadAllBytes(path), Json)
                ?? throw new InvalidDataException($"{path}: the metadata is empty (null).");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid prepared-corpus metadata ({e.Message}). Prepare the corpus again.", e);
        }
    }

    /// <summary>Writes the metadata into <paramref name="directory"/> atomically (temporary file, then rename).</summary>
    public void Write(string directory) =>
        AtomicFile.WriteAllBytes(Path.Combine(directory, FileName), JsonSerializer.SerializeToUtf8Bytes(this, Json));
}

/// <summary>One corpus file as it was when prepared.</summary>
/// <param name="Path">Full path.</param>
/// <param name="Bytes">File size.</param>
/// <param name="LastWriteUtc">Last modification time.</param>
public sealed record SourceFile(string Path, long Bytes, DateTime LastWriteUtc);

/// <summary>What one split (training or validation) produced.</summary>
/// <param name="Documents">Documents assigned to the split.</param>
/// <param name="Tokens">Ids of those documents, counting one EOS per document.</param>
/// <param name="Sequences">Sequences of length L written.</param>
/// <param name="DroppedTokens">Ids of the final partial chunk, dropped as MDLM does.</param>
/// <param name="Shards">Shard file names, relative to the prepared corpus folder, in order.</param>
public sealed record SplitSummary(long Documents, long Tokens, long Sequences, long DroppedTokens, IReadOnlyList<string> Shards);
