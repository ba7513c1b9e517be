using System.Buffers.Binary;
using System.Text;
using IlgpuDiffusion.Models.Safetensors;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Builds safetensors bytes by hand (independently of <see cref="SafetensorsWriter"/>): F32, F16 or
/// BF16 data, an optional raw header override, so tests can also make broken files.
/// </summary>
internal sealed class RawSafetensors
{
    private readonly List<(string Name, string Dtype, long[] Shape, byte[] Data)> _tensors = [];

    /// <summary>Adds a tensor encoded in <paramref name="dtype"/> (F32, F16 or BF16; BF16 truncates).</summary>
    public RawSafetensors Add(string name, SafetensorsDtype dtype, float[] values, params long[] shape)
    {
        _tensors.Add((name, dtype.ToString(), shape, Encode(dtype, values)));
        return this;
    }

    /// <summary>Adds a tensor with a raw dtype spelling and raw bytes (for unknown dtypes).</summary>
    public RawSafetensors AddRaw(string name, string dtype, byte[] data, params long[] shape)
    {
        _tensors.Add((name, dtype, shape, data));
        return this;
    }

    /// <summary>The file bytes: u64 header length, JSON header, data.</summary>
    public byte[] ToBytes()
    {
        var header = new StringBuilder("{");
        long offset = 0;
        foreach (var (name, dtype, shape, data) in _tensors)
        {
            if (header.Length > 1) header.Append(',');
            header.Append($"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}]," +
                $"\"data_offsets\":[{offset},{offset + data.Length}]}}");
            offset += data.Length;
        }
        header.Append('}');
        return FromHeader(Encoding.UTF8.GetBytes(header.ToString()), [.. _tensors.SelectMany(t => t.Data)]);
    }

    /// <summary>The file bytes of a header written by hand (any bytes, valid or not) and a data section.</summary>
    public static byte[] FromHeader(byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    /// <summary>The file bytes of a JSON header written by hand and a data section of <paramref name="dataBytes"/> zeros.</summary>
    public static byte[] FromHeader(string header, int dataBytes) => FromHeader(Encoding.UTF8.GetBytes(header), new byte[dataBytes]);

    /// <summary>Encodes floats little-endian in <paramref name="dtype"/>.</summary>
    public static byte[] Encode(SafetensorsDtype dtype, float[] values)
    {
        int size = dtype == SafetensorsDtype.F32 ? 4 : 2;
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            var span = bytes.AsSpan(i * size, size);
            switch (dtype)
            {
                case SafetensorsDtype.F32: BinaryPrimitives.WriteSingleLittleEndian(span, values[i]); break;
                case SafetensorsDtype.F16: BinaryPrimitives.WriteHalfLittleEndian(span, (Half)values[i]); break;
                case SafetensorsDtype.BF16:
                    BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16));
                    break;
                default: throw new ArgumentOutOfRangeException(nameof(dtype));
            }
        }
        return bytes;
    }

    /// <summary>What a reader must return for <paramref name="values"/> stored as <paramref name="dtype"/>.</summary>
    public static float[] RoundTrip(SafetensorsDtype dtype, float[] values) => dtype switch
    {
        SafetensorsDtype.F32 => values,
        SafetensorsDtype.F16 => values.Select(v => (float)(Half)v).ToArray(),
        SafetensorsDtype.BF16 =>
            values.Select(v => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & 0xFFFF0000u)).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}
