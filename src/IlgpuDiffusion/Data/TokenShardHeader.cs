using System.Buffers.Binary;

namespace IlgpuDiffusion.Data;

/// <summary>
/// The 32-byte header of a token shard file. All fields little-endian:
/// <code>
/// offset  0  8 bytes  magic "IDTOKENS"
/// offset  8  uint32   format version (1)
/// offset 12  uint32   header size in bytes (32)
/// offset 16  uint32   vocabulary size of the ids
/// offset 20  uint32   sequence length L
/// offset 24  uint64   sequence count N
/// offset 32           N × L uint16 token ids, sequence after sequence
/// </code>
/// </summary>
/// <param name="VocabularySize">Every id is below this.</param>
/// <param name="SequenceLength">L: ids per sequence.</param>
/// <param name="SequenceCount">N: sequences in the file.</param>
internal readonly record struct TokenShardHeader(int VocabularySize, int SequenceLength, long SequenceCount)
{
    /// <summary>Header size in bytes.</summary>
    public const int Size = 32;

    /// <summary>Current format version.</summary>
    public const int Version = 1;

    /// <summary>File name extension of token shards.</summary>
    public const string Extension = ".tokens";

    private static ReadOnlySpan<byte> Magic => "IDTOKENS"u8;

    /// <summary>Exact file length in bytes of a shard with this header.</summary>
    public long FileLength => Size + SequenceCount * SequenceLength * sizeof(ushort);

    /// <summary>Writes this header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)VocabularySize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], (uint)SequenceLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], (ulong)SequenceCount);
    }

    /// <summary>
    /// Reads and checks the header of <paramref name="path"/>: magic, version, the expected
    /// vocabulary size and sequence length, and that the file length matches the sequence count.
    /// </summary>
    /// <param name="expectedSequenceLength">Required L, or null to accept any.</param>
    /// <exception cref="InvalidDataException">The file is foreign, truncated or made with other settings.</exception>
    public static TokenShardHeader Read(string path, int expectedVocabularySize, int? expectedSequenceLength)
    {
        Span<byte> bytes = stackalloc byte[Size];
        long fileLength;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            fileLength = stream.Length;
            stream.ReadAtLeast(bytes, Size, throwOnEndOfStream: false);
        }
        if (fileLength >= Magic.Length && !bytes[..Magic.Length].SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a token shard (the file does not start with \"IDTOKENS\"). " +
                "Point the training data at a folder prepared by CorpusPreparer.");
        if (fileLength < Size)
            throw new InvalidDataException($"{path}: truncated token shard ({fileLength} bytes, shorter than the {Size}-byte header). " +
                "Delete it and prepare the corpus again.");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        if (version != Version || headerSize != Size)
            throw new InvalidDataException($"{path}: token shard format version {version} (header {headerSize} bytes) is not supported; " +
                $"this library reads version {Version}. Prepare the corpus again.");
        uint vocabularySize = BinaryPrimitives.ReadUInt32LittleEndian(bytes[16..]);
        uint sequenceLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]);
        ulong sequenceCount = BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]);
        if (vocabularySize > int.MaxValue || sequenceLength > int.MaxValue || sequenceCount > long.MaxValue)
            throw new InvalidDataException($"{path}: corrupt token shard header (vocabulary size {vocabularySize}, " +
                $"sequence length {sequenceLength}, count {sequenceCount}).");
        var header = new TokenShardHeader((int)vocabularySize, (int)sequenceLength, (long)sequenceCount);
        header.Check(path, fileLength, expectedVocabularySize, expectedSequenceLength);
        return header;
    }

    private void Check(string path, long fileLength, int expectedVocabularySize, int? expectedSequenceLength)
    {
        if (VocabularySize != expectedVocabularySize)
            throw new InvalidDataException($"{path}: token shard made with vocabulary size " +
                $"{Tokenizer.DescribeVocabulary(VocabularySize)}, but {Tokenizer.DescribeVocabulary(expectedVocabularySize)} " +
                "is expected. Prepare the corpus again with the matching tokenizer, or open it with its own.");
        if (expectedSequenceLength is int length && SequenceLength != length)
            throw new InvalidDataException($"{path}: token shard holds sequences of length {SequenceLength}, " +
                $"but {length} is expected. Prepare the corpus again with sequence length {length}.");
        if (SequenceLength <= 0 || SequenceCount < 0 || SequenceCount > (long.MaxValue - Size) / 2 / SequenceLength)
            throw new InvalidDataException($"{path}: corrupt token shard header " +
                $"(sequence length {SequenceLength}, count {SequenceCount}).");
        if (fileLength != FileLength)
            throw new InvalidDataException($"{path}: truncated or corrupt token shard: {SequenceCount} sequences of {SequenceLength} ids " +
                $"need {FileLength} bytes, the file has {fileLength}. Delete it and prepare the corpus again.");
    }
}
