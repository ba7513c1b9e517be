namespace IlgpuDiffusion.Models.Safetensors;

/// <summary>
/// Element types of the safetensors format (the spellings of its JSON header). Any of them can be
/// listed and skipped; <see cref="SafetensorsReader"/> converts F32, F16, BF16 and F64 to float.
/// </summary>
internal enum SafetensorsDtype
{
    /// <summary>IEEE binary32.</summary>
    F32,
    /// <summary>IEEE binary16.</summary>
    F16,
    /// <summary>bfloat16: the upper 16 bits of a binary32.</summary>
    BF16,
    /// <summary>IEEE binary64.</summary>
    F64,
    /// <summary>8-bit float, 4 exponent bits.</summary>
    F8_E4M3,
    /// <summary>8-bit float, 5 exponent bits.</summary>
    F8_E5M2,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Boolean, one byte each.</summary>
    BOOL,
}

/// <summary>Sizes and conversions of <see cref="SafetensorsDtype"/>.</summary>
internal static class SafetensorsDtypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F64 or SafetensorsDtype.I64 or SafetensorsDtype.U64 => 8,
        SafetensorsDtype.F32 or SafetensorsDtype.I32 or SafetensorsDtype.U32 => 4,
        SafetensorsDtype.F16 or SafetensorsDtype.BF16 or SafetensorsDtype.I16 or SafetensorsDtype.U16 => 2,
        _ => 1,
    };

    /// <summary>The safetensors element type that stores exported weights of <paramref name="dtype"/>.</summary>
    public static SafetensorsDtype Stored(this WeightsDtype dtype) => dtype switch
    {
        WeightsDtype.F32 => SafetensorsDtype.F32,
        WeightsDtype.BF16 => SafetensorsDtype.BF16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), $"Weights can be stored as F32 or BF16, not {dtype}."),
    };

    /// <summary>Whether <see cref="SafetensorsReader"/> can read elements of this type as floats.</summary>
    public static bool IsReadableAsFloat(this SafetensorsDtype dtype) =>
        dtype is SafetensorsDtype.F32 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 or SafetensorsDtype.F64;

    /// <summary>Parses a header spelling ("F32", "BF16", ...); false for anything else.</summary>
    public static bool TryParse(string? text, out SafetensorsDtype dtype) =>
        Enum.TryParse(text, ignoreCase: false, out dtype) && Enum.IsDefined(dtype) && text == dtype.ToString();

    /// <summary>Converts little-endian elements of <paramref name="dtype"/> to floats (source holds destination.Length elements).</summary>
    internal static void ToFloat(SafetensorsDtype dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (dtype)
        {
            case SafetensorsDtype.F32:
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case SafetensorsDtype.F16:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = (float)BitConverter.UInt16BitsToHalf(ReadU16(source, i));
                break;
            case SafetensorsDtype.BF16:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(ReadU16(source, i) << 16);
                break;
            case SafetensorsDtype.F64:
                var doubles = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)doubles[i];
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), $"{dtype} elements cannot be read as floats.");
        }
    }

    private static ushort ReadU16(ReadOnlySpan<byte> source, int index) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(2 * index, 2));
}
