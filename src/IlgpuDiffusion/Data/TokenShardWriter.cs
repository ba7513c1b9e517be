using System.Buffers.Binary;

namespace IlgpuDiffusion.Data;

/// <summary>
/// Writes one token shard (format: <see cref="TokenShardHeader"/>) atomically: sequences go to a
/// temporary file beside the target, and only <see cref="Commit"/> renames it into place.
/// Disposing without committing deletes the temporary file, so no half-written shard remains.
/// </summary>
internal sealed class TokenShardWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly byte[] _buffer;
    private readonly int _vocabularySize;
    private bool _finished;

    /// <summary>Starts a shard that will appear at <paramref name="path"/> on <see cref="Commit"/>.</summary>
    /// <param name="vocabularySize">Every id must be below this (at most 65,536: ids are stored as uint16).</param>
    /// <param name="sequenceLength">L: ids per sequence.</param>
    public TokenShardWriter(string path, int sequenceLength, int vocabularySize = Gpt2Tokenizer.VocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vocabularySize, ushort.MaxValue + 1);
        Path = System.IO.Path.GetFullPath(path);
        SequenceLength = sequenceLength;
        _vocabularySize = vocabularySize;
        TemporaryPath = $"{Path}.{Guid.NewGuid():N}.tmp";
        _buffer = new byte[sequenceLength * sizeof(ushort)];
        _stream = new FileStream(TemporaryPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        _stream.Write(new byte[TokenShardHeader.Size]);
    }

    /// <summary>Final path of the shard.</summary>
    public string Path { get; }

    /// <summary>Where the shard is written until it is committed.</summary>
    public string TemporaryPath { get; }

    /// <summary>L: ids per sequence.</summary>
    public int SequenceLength { get; }

    /// <summary>Sequences written so far.</summary>
    public long SequenceCount { get; private set; }

    /// <summary>Appends one sequence of exactly <see cref="SequenceLength"/> ids.</summary>
    /// <exception cref="ArgumentException">Wrong length or an id outside the vocabulary.</exception>
    public void Write(ReadOnlySpan<int> sequence)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        if (sequence.Length != SequenceLength)
            throw new ArgumentException($"A sequence for {Path} must have {SequenceLength} ids, not {sequence.Length}.", nameof(sequence));
        for (int i = 0; i < sequence.Length; i++)
        {
            int id = sequence[i];
            if ((uint)id >= (uint)_vocabularySize)
                throw new ArgumentException($"Token id {id} at position {i} is outside the vocabulary 0..{_vocabularySize - 1} of {Path}.",
                    nameof(sequence));
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(i * sizeof(ushort)), (ushort)id);
        }
        _stream.Write(_buffer);
        SequenceCount++;
    }

    /// <summary>Writes the header, flushes to disk and renames the file to <see cref="Path"/> (replacing any older file).</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _finished = true;
        try
        {
            Span<byte> header = stackalloc byte[TokenShardHeader.Size];
            new TokenShardHeader(_vocabularySize, SequenceLength, SequenceCount).Write(header);
            _stream.Position = 0;
            _stream.Write(header);
            _stream.Flush(flushToDisk: true);
            _stream.Dispose();
            File.Move(TemporaryPath, Path, overwrite: true);
        }
        catch
        {
            _stream.Dispose();
            File.Delete(TemporaryPath);
            throw;
        }
    }

    /// <summary>Abandons an uncommitted shard, deleting its temporary file.</summary>
    public void Dispose()
    {
        if (_finished) return;
        _finished = true;
        _stream.Dispose();
        File.Delete(TemporaryPath);
    }
}
