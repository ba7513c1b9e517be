using System.IO.MemoryMappedFiles;

namespace IlgpuDiffusion.Data;

/// <summary>
/// A token shard file opened read-only through a memory map: sequences are read straight from
/// the page cache without loading the file. Thread-safe for concurrent reads.
/// </summary>
public sealed unsafe class TokenShard : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _data;
    private bool _disposed;

    private TokenShard(string path, TokenShardHeader header)
    {
        Path = path;
        Header = header;
        if (header.SequenceCount == 0) return;
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, header.FileLength, MemoryMappedFileAccess.Read);
        byte* start = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _data = start + _view.PointerOffset + TokenShardHeader.Size;
    }

    /// <summary>Full path of the shard file.</summary>
    public string Path { get; }

    /// <summary>The shard's header.</summary>
    internal TokenShardHeader Header { get; }

    /// <summary>L: ids per sequence.</summary>
    public int SequenceLength => Header.SequenceLength;

    /// <summary>Sequences in the shard.</summary>
    public long SequenceCount => Header.SequenceCount;

    /// <summary>Opens and checks a shard (see <see cref="TokenShardHeader.Read"/> for the checks).</summary>
    /// <param name="expectedSequenceLength">Required L, or null to accept any.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is foreign, truncated or made with other settings.</exception>
    public static TokenShard Open(string path, int? expectedSequenceLength = null,
        int expectedVocabularySize = Gpt2Tokenizer.VocabularySize)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Token shards are little-endian; this machine is big-endian.");
        string fullPath = System.IO.Path.GetFullPath(path);
        if (!File.Exists(fullPath)) throw new FileNotFoundException($"Token shard not found: {fullPath}.", fullPath);
        return new TokenShard(fullPath, TokenShardHeader.Read(fullPath, expectedVocabularySize, expectedSequenceLength));
    }

    /// <summary>The uint16 ids of sequence <paramref name="index"/>, valid until the shard is disposed.</summary>
    public ReadOnlySpan<ushort> GetSequence(long index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, SequenceCount);
        return new ReadOnlySpan<ushort>(_data + index * SequenceLength * sizeof(ushort), SequenceLength);
    }

    /// <summary>Copies sequence <paramref name="index"/> as ints into the first L entries of <paramref name="destination"/>.</summary>
    /// <exception cref="InvalidDataException">An id is not below the shard's vocabulary size: the file is damaged.</exception>
    public void CopySequence(long index, Span<int> destination)
    {
        ReadOnlySpan<ushort> ids = GetSequence(index);
        if (destination.Length < ids.Length)
            throw new ArgumentException($"The destination holds {destination.Length} ids; a sequence has {ids.Length}.",
                nameof(destination));
        int vocabulary = Header.VocabularySize;
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if (id >= vocabulary)
                throw new InvalidDataException($"{Path}: sequence {index} holds token id {id} at position {i}, outside the " +
                    $"shard's vocabulary of {vocabulary} ids: the shard is damaged. Delete it and prepare the corpus again.");
            destination[i] = id;
        }
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
