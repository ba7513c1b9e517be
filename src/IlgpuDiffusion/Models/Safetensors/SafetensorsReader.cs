using System.Buffers.Binary;
using IlgpuDiffusion.Compute;
using Microsoft.Win32.SafeHandles;

namespace IlgpuDiffusion.Models.Safetensors;

/// <summary>
/// Reads a safetensors file: an 8-byte little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c>),
/// then the raw little-endian data. The header is parsed and checked against the file size when
/// opening (<see cref="SafetensorsHeader"/>); tensor data is read on demand, in chunks, converted to float (F32, F16, BF16,
/// F64). The tensors read are weights, so every value read must be finite. Every problem throws
/// <see cref="InvalidDataException"/> naming the file and the tensor.
/// </summary>
internal sealed class SafetensorsReader : IDisposable
{
    private const long MaxHeaderBytes = 100L << 20;
    private const int ChunkElements = 1 << 17;

    private readonly SafeFileHandle _file;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private readonly byte[] _chunk = new byte[ChunkElements * sizeof(double)];
    private readonly float[] _floats = new float[ChunkElements];

    private SafetensorsReader(string path, SafeFileHandle file, long dataStart, long dataLength, SafetensorsHeader header)
    {
        Path = path;
        _file = file;
        _dataStart = dataStart;
        DataLength = dataLength;
        Tensors = header.Tensors;
        _byName = header.Tensors.ToDictionary(t => t.Name);
        Metadata = header.Metadata;
    }

    /// <summary>The file being read.</summary>
    public string Path { get; }

    /// <summary>The string map under <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor in header order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>Bytes of the data section: the bytes of all tensors together.</summary>
    public long DataLength { get; }

    /// <summary>Opens <paramref name="path"/> and validates its header against the file size.</summary>
    public static SafetensorsReader Open(string path)
    {
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long fileLength = RandomAccess.GetLength(file);
            Span<byte> lengthBytes = stackalloc byte[8];
            if (fileLength < 8 || RandomAccess.Read(file, lengthBytes, 0) != 8)
                throw new InvalidDataException($"'{path}' is not a safetensors file: it is shorter than the 8-byte header length.");
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > MaxHeaderBytes)
                throw new InvalidDataException($"'{path}' is not a safetensors file: " +
                    $"its header length {headerLength} exceeds {MaxHeaderBytes} bytes.");
            if (8 + (long)headerLength > fileLength)
                throw new InvalidDataException($"'{path}' is truncated: " +
                    $"the header needs {headerLength} bytes but the file has {fileLength - 8} after the length.");
            var header = new byte[headerLength];
            RandomAccess.Read(file, header, 8);
            long dataStart = 8 + (long)headerLength;
            var parsed = SafetensorsHeader.Parse(path, header, fileLength - dataStart);
            return new SafetensorsReader(path, file, dataStart, fileLength - dataStart, parsed);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>; throws naming the tensor when absent.</summary>
    public SafetensorsTensorInfo GetInfo(string name) => _byName.TryGetValue(name, out var info)
        ? info
        : throw new InvalidDataException($"'{Path}' has no tensor named '{name}'.");

    /// <summary>Reads tensor <paramref name="name"/> as floats into a new array.</summary>
    public float[] ReadFloats(string name)
    {
        var info = GetInfo(name);
        if (info.ElementCount > Array.MaxLength)
            throw new InvalidDataException($"Tensor '{name}' in '{Path}' has {info.ElementCount} elements {info.ShapeText}, " +
                $"more than one array holds ({Array.MaxLength}).");
        var result = new float[info.ElementCount];
        ReadFloats(name, result);
        return result;
    }

    /// <summary>Reads tensor <paramref name="name"/> as floats; <paramref name="destination"/> must hold exactly its elements.</summary>
    public void ReadFloats(string name, Span<float> destination)
    {
        var info = ReadableInfo(name, destination.Length);
        long done = 0;
        while (done < destination.Length)
        {
            int count = ReadChunk(info, done, destination.Length - done);
            _floats.AsSpan(0, count).CopyTo(destination.Slice((int)done, count));
            done += count;
        }
    }

    /// <summary>Streams tensor <paramref name="name"/> into a device tensor of exactly its element count.</summary>
    public void ReadFloats(string name, Tensor<float> destination)
    {
        var info = ReadableInfo(name, destination.Length);
        long done = 0;
        while (done < destination.Length)
        {
            int count = ReadChunk(info, done, destination.Length - done);
            destination.Buffer.CopyFromHost(destination.Offset + done, _floats.AsSpan(0, count));
            done += count;
        }
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> through, keeping nothing, to check what every read checks (each value finite):
    /// a caller that must not overwrite anything from a bad file checks all its tensors first.
    /// </summary>
    public void CheckValues(string name)
    {
        var info = GetInfo(name);
        ReadableInfo(name, info.ElementCount);
        for (long done = 0; done < info.ElementCount;) done += ReadChunk(info, done, info.ElementCount - done);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _file.Dispose();

    private SafetensorsTensorInfo ReadableInfo(string name, long destinationLength)
    {
        var info = GetInfo(name);
        if (!info.Dtype.IsReadableAsFloat())
            throw new InvalidDataException($"Tensor '{name}' in '{Path}' has dtype {info.Dtype}; " +
                "only F32, F16, BF16 and F64 can be read as floats.");
        if (info.ElementCount != destinationLength)
            throw new ArgumentException($"Tensor '{name}' in '{Path}' has {info.ElementCount} elements {info.ShapeText}; " +
                $"the destination holds {destinationLength}.");
        return info;
    }

    /// <summary>
    /// Converts up to one chunk of elements starting at element <paramref name="first"/> into <see cref="_floats"/>;
    /// throws naming the tensor and the element when one is not finite.
    /// </summary>
    private int ReadChunk(SafetensorsTensorInfo info, long first, long remaining)
    {
        int size = info.Dtype.Size();
        int count = (int)Math.Min(remaining, ChunkElements);
        var bytes = _chunk.AsSpan(0, count * size);
        long position = _dataStart + info.Begin + first * size;
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(_file, bytes[read..], position + read);
            if (n <= 0)
                throw new InvalidDataException($"'{Path}' is truncated inside tensor '{info.Name}'.");
            read += n;
        }
        var floats = _floats.AsSpan(0, count);
        SafetensorsDtypes.ToFloat(info.Dtype, bytes, floats);
        if (!float.IsFinite(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(floats))) // NaN when one is NaN, infinite when one is
        {
            int bad = IndexOfNonFinite(floats);
            throw new InvalidDataException($"Tensor '{info.Name}' in '{Path}' holds {floats[bad]} at element {first + bad}: " +
                "weights must be finite numbers (the file is damaged, or was saved from a run that diverged).");
        }
        return count;
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return 0;
    }
}
