using System.Buffers.Binary;
using System.Text.Json;
using IlgpuDiffusion.Compute;
using Microsoft.Win32.SafeHandles;

namespace IlgpuDiffusion.Models.Safetensors;

/// <summary>
/// Reads a safetensors file: an 8-byte little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c>),
/// then the raw little-endian data. The header is parsed and checked against the file size when
/// opening; tensor data is read on demand, in chunks, converted to float (F32, F16, BF16, F64).
/// Every problem throws <see cref="InvalidDataException"/> naming the file and the tensor.
/// </summary>
internal sealed class SafetensorsReader : IDisposable
{
    private const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100L << 20;
    private const int ChunkElements = 1 << 17;

    private readonly SafeFileHandle _file;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private readonly byte[] _chunk = new byte[ChunkElements * sizeof(double)];
    private readonly float[] _floats = new float[ChunkElements];

    private SafetensorsReader(string path, SafeFileHandle file, long dataStart,
        List<SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _file = file;
        _dataStart = dataStart;
        Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name);
        Metadata = metadata;
    }

    /// <summary>The file being read.</summary>
    public string Path { get; }

    /// <summary>The string map under <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor in header order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

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
            var (tensors, metadata) = ParseHeader(path, header, fileLength - dataStart);
            return new SafetensorsReader(path, file, dataStart, tensors, metadata);
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
        var result = new float[checked((int)info.ElementCount)];
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

    /// <summary>Converts up to one chunk of elements starting at element <paramref name="first"/> into <see cref="_floats"/>.</summary>
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
        SafetensorsDtypes.ToFloat(info.Dtype, bytes, _floats.AsSpan(0, count));
        return count;
    }

    private static (List<SafetensorsTensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' has a safetensors header that is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"'{path}' has a safetensors header that is not a JSON object.");
            var tensors = new List<SafetensorsTensorInfo>();
            var metadata = new Dictionary<string, string>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                    ReadMetadata(path, property.Value, metadata);
                else
                    tensors.Add(ParseTensor(path, property.Name, property.Value, dataLength));
            }
            return (tensors, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"'{path}': {MetadataKey} must be an object of strings.");
        foreach (var entry in element.EnumerateObject())
            metadata[entry.Name] = entry.Value.ValueKind == JsonValueKind.String
                ? entry.Value.GetString()!
                : throw new InvalidDataException($"'{path}': metadata value '{entry.Name}' is not a string.");
    }

    private static SafetensorsTensorInfo ParseTensor(string path, string name, JsonElement element, long dataLength)
    {
        string where = $"Tensor '{name}' in '{path}'";
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !element.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw new InvalidDataException($"{where} needs \"dtype\", \"shape\" and two \"data_offsets\" in the header.");
        string? dtypeText = dtypeElement.GetString();
        if (!SafetensorsDtypes.TryParse(dtypeText, out var dtype))
            throw new InvalidDataException($"{where} has unknown dtype '{dtypeText}'.");
        var shape = new long[shapeElement.GetArrayLength()];
        int axis = 0;
        foreach (var d in shapeElement.EnumerateArray())
            shape[axis++] = d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out long v) && v >= 0
                ? v
                : throw new InvalidDataException($"{where} has an invalid shape dimension {d}.");
        long begin = ReadOffset(where, offsetsElement[0]), end = ReadOffset(where, offsetsElement[1]);
        var info = new SafetensorsTensorInfo(name, dtype, shape, begin, end);
        long expected = checked(info.ElementCount * dtype.Size());
        if (end < begin || end - begin != expected)
            throw new InvalidDataException($"{where}: data_offsets [{begin}, {end}) hold {end - begin} bytes " +
                $"but {dtype} {info.ShapeText} needs {expected}.");
        if (end > dataLength)
            throw new InvalidDataException($"'{path}' is truncated: tensor '{name}' needs data bytes [{begin}, {end}) " +
                $"but the data section has {dataLength}.");
        return info;
    }

    private static long ReadOffset(string where, JsonElement element) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out long v) && v >= 0
            ? v
            : throw new InvalidDataException($"{where} has an invalid data offset {element}.");
}
