using System.Text.Json;
using System.Text.Unicode;

namespace IlgpuDiffusion.Models.Safetensors;

/// <summary>
/// The JSON header of a safetensors file, parsed and checked as the format requires: UTF-8 text, one object whose keys
/// appear once each, every tensor's dtype, shape and data offsets consistent, and the offsets indexing the data section
/// completely: tensors back to back, no byte shared by two tensors, none left over. Sizes are checked before anything is
/// sized from them, so a hostile header costs memory in proportion to its own length only.
/// </summary>
/// <param name="Tensors">Every tensor in header order.</param>
/// <param name="Metadata">The string map under <c>__metadata__</c> (empty when absent).</param>
internal sealed record SafetensorsHeader(List<SafetensorsTensorInfo> Tensors, Dictionary<string, string> Metadata)
{
    private const string MetadataKey = "__metadata__";

    /// <summary>
    /// Parses <paramref name="header"/> of the file <paramref name="path"/>, whose data section holds <paramref name="dataLength"/> bytes.
    /// </summary>
    /// <exception cref="InvalidDataException">The header breaks the format; the message names the file and the tensor.</exception>
    public static SafetensorsHeader Parse(string path, byte[] header, long dataLength)
    {
        if (!Utf8.IsValid(header))
            throw new InvalidDataException($"'{path}' has a safetensors header that is not valid UTF-8 text.");
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
            try
            {
                var parsed = ParseObject(path, document.RootElement, dataLength);
                CheckLayout(path, parsed.Tensors, dataLength);
                return parsed;
            }
            catch (InvalidOperationException e) // a string escape that decodes to no valid text, e.g. a lone surrogate
            {
                throw new InvalidDataException($"'{path}' has a safetensors header with unreadable text: {e.Message}", e);
            }
        }
    }

    private static SafetensorsHeader ParseObject(string path, JsonElement root, long dataLength)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"'{path}' has a safetensors header that is not a JSON object.");
        var tensors = new List<SafetensorsTensorInfo>();
        var metadata = new Dictionary<string, string>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!keys.Add(property.Name))
                throw new InvalidDataException($"'{path}' lists '{property.Name}' twice in its safetensors header.");
            if (property.Name == MetadataKey)
                ReadMetadata(path, property.Value, metadata);
            else
                tensors.Add(ParseTensor(path, property.Name, property.Value, dataLength));
        }
        return new SafetensorsHeader(tensors, metadata);
    }

    private static void ReadMetadata(string path, JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"'{path}': {MetadataKey} must be an object of strings.");
        foreach (var entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"'{path}': metadata value '{entry.Name}' is not a string.");
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                throw new InvalidDataException($"'{path}' lists metadata key '{entry.Name}' twice in its safetensors header.");
        }
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
        long expected = ByteSize(where, dtype, shape);
        if (end < begin || end - begin != expected)
            throw new InvalidDataException($"{where}: data_offsets [{begin}, {end}) hold {Math.Max(0, end - begin)} bytes " +
                $"but {dtype} {SafetensorsTensorInfo.FormatShape(shape)} needs {expected}.");
        if (end > dataLength)
            throw new InvalidDataException($"'{path}' is truncated: tensor '{name}' needs data bytes [{begin}, {end}) " +
                $"but the data section has {dataLength}.");
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    /// <summary>Bytes of a <paramref name="dtype"/> tensor of <paramref name="shape"/>, refused when beyond 64 bits.</summary>
    private static long ByteSize(string where, SafetensorsDtype dtype, long[] shape)
    {
        if (shape.Contains(0)) return 0;
        Int128 bytes = dtype.Size();
        foreach (long d in shape)
        {
            bytes *= d; // both factors are below 2^63, so the product fits in 128 bits
            if (bytes > long.MaxValue)
                throw new InvalidDataException($"{where} has shape {SafetensorsTensorInfo.FormatShape(shape)}, " +
                    $"more than {long.MaxValue} bytes of {dtype}: the header is corrupt.");
        }
        return (long)bytes;
    }

    private static long ReadOffset(string where, JsonElement element) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out long v) && v >= 0
            ? v
            : throw new InvalidDataException($"{where} has an invalid data offset {element}.");

    /// <summary>Requires the tensors, in offset order, to fill the data section back to back with nothing shared or left over.</summary>
    private static void CheckLayout(string path, List<SafetensorsTensorInfo> tensors, long dataLength)
    {
        long next = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (var tensor in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (tensor.Begin < next)
                throw new InvalidDataException($"'{path}': tensors '{previous!.Name}' (data bytes [{previous.Begin}, {previous.End})) " +
                    $"and '{tensor.Name}' ([{tensor.Begin}, {tensor.End})) overlap; a safetensors file stores each tensor in bytes " +
                    "of its own.");
            if (tensor.Begin > next)
                throw new InvalidDataException($"'{path}': data bytes [{next}, {tensor.Begin}) before tensor '{tensor.Name}' belong to " +
                    "no tensor; a safetensors file stores its tensors back to back.");
            next = tensor.End;
            previous = tensor;
        }
        if (next != dataLength)
            throw new InvalidDataException($"'{path}': data bytes [{next}, {dataLength}) after the last tensor belong to no tensor; " +
                "a safetensors file stores its tensors back to back to the end of the file.");
    }
}
