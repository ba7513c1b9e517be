using System.Runtime.InteropServices;
using System.Text.Json;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Files;

namespace IlgpuDiffusion.Models.Safetensors;

/// <summary>
/// Writes named float tensors and string metadata as a safetensors file (F32, or BF16 rounded to nearest even when
/// <see cref="Dtype"/> asks; little-endian, tensors
/// stored back to back in the order added, header padded with spaces to 8 bytes). Host arrays and
/// device tensors are both accepted; device data is copied out in chunks while writing. The file is
/// written to a temporary name beside <c>path</c> and renamed when complete, so a reader never sees
/// half a file.
/// </summary>
internal sealed class SafetensorsWriter
{
    private const int ChunkElements = 1 << 18;

    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = [];

    /// <summary>The element type every tensor is stored in: F32 (the default) or BF16.</summary>
    public SafetensorsDtype Dtype
    {
        get;
        init => field = value is SafetensorsDtype.F32 or SafetensorsDtype.BF16 ? value
            : throw new ArgumentOutOfRangeException(nameof(value), $"Tensors can be written as F32 or BF16, not {value}.");
    } = SafetensorsDtype.F32;

    /// <summary>String metadata written under <c>__metadata__</c>.</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

    /// <summary>Adds a host tensor (kept by reference until <see cref="Write"/>).</summary>
    /// <param name="name">Key in the file.</param>
    /// <param name="data">[product of shape] elements.</param>
    /// <param name="shape">Dimensions, outermost first.</param>
    public void Add(string name, ReadOnlyMemory<float> data, params long[] shape) =>
        AddEntry(new Entry(name, shape, data, null), data.Length);

    /// <summary>Adds a device tensor (read when <see cref="Write"/> runs).</summary>
    /// <param name="name">Key in the file.</param>
    /// <param name="data">[product of shape] elements.</param>
    /// <param name="shape">Dimensions, outermost first.</param>
    public void Add(string name, Tensor<float> data, params long[] shape) =>
        AddEntry(new Entry(name, shape, default, data), data.Length);

    /// <summary>Writes the file atomically (<see cref="AtomicFile"/>: temporary file, then rename over <paramref name="path"/>).</summary>
    /// <exception cref="IOException">The path is a folder or a special file, or writing failed.</exception>
    public void Write(string path) => AtomicFile.Write(path, stream =>
    {
        byte[] header = Header();
        Span<byte> length = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        var chunk = new float[ChunkElements];
        foreach (var entry in _entries) WriteData(stream, entry, chunk, Dtype);
    });

    private void AddEntry(Entry entry, long length)
    {
        if (entry.Name is "" or "__metadata__")
            throw new ArgumentException($"'{entry.Name}' cannot name a tensor.", nameof(entry));
        if (entry.Shape.Any(d => d < 0))
            throw new ArgumentException($"Tensor '{entry.Name}' has a negative dimension " +
                $"in {SafetensorsTensorInfo.FormatShape(entry.Shape)}.");
        long expected = entry.Shape.Aggregate(1L, (product, d) => checked(product * d));
        if (expected != length)
            throw new ArgumentException($"Tensor '{entry.Name}' has {length} elements but " +
                $"shape {SafetensorsTensorInfo.FormatShape(entry.Shape)} needs {expected}.");
        if (!_names.Add(entry.Name))
            throw new ArgumentException($"A tensor named '{entry.Name}' was already added.");
        _entries.Add(entry);
    }

    private byte[] Header()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (Metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in Metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var entry in _entries)
            {
                long bytes = entry.Length * Dtype.Size();
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", Dtype.ToString());
                json.WriteStartArray("shape");
                foreach (long d in entry.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static void WriteData(Stream stream, Entry entry, float[] chunk, SafetensorsDtype dtype)
    {
        if (entry.Device is not { } tensor)
        {
            ReadOnlySpan<float> host = entry.Host.Span;
            if (dtype == SafetensorsDtype.F32) stream.Write(MemoryMarshal.AsBytes(host));
            else
                for (int done = 0; done < host.Length; done += ChunkElements)
                    WriteChunk(stream, host.Slice(done, Math.Min(ChunkElements, host.Length - done)), dtype);
            return;
        }
        tensor.Device.Synchronize();
        for (long done = 0; done < tensor.Length; done += ChunkElements)
        {
            int count = (int)Math.Min(ChunkElements, tensor.Length - done);
            tensor.Buffer.CopyToHost(tensor.Offset + done, chunk.AsSpan(0, count));
            WriteChunk(stream, chunk.AsSpan(0, count), dtype);
        }
    }

    private static void WriteChunk(Stream stream, ReadOnlySpan<float> values, SafetensorsDtype dtype)
    {
        if (dtype == SafetensorsDtype.F32)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        var bytes = new byte[2 * values.Length];
        for (int i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i, 2), BFloat16.FromFloat(values[i]));
        stream.Write(bytes);
    }

    private sealed record Entry(string Name, long[] Shape, ReadOnlyMemory<float> Host, Tensor<float>? Device)
    {
        public long Length => Device?.Length ?? Host.Length;
    }
}
