using System.Text;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Seeded generators of hostile parser inputs: byte-level mutations of a valid input (flips, cuts, repeats, extreme numbers,
/// JSON tokens, invalid UTF-8, lone surrogates) and safetensors headers assembled from random, often inconsistent parts
/// (unknown dtypes, huge or negative dimensions, overlapping, scattered or out-of-range offsets, repeated keys).
/// </summary>
internal sealed class HostileBytes(int seed)
{
    private static readonly string[] Numbers =
    [
        "0", "-1", "1", "2147483647", "2147483648", "-2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
        "18446744073709551615", "1e308", "1e400", "-0", "0.5", "1000000000", "NaN", "\"NaN\"", "\"Infinity\"", "null",
    ];

    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", "\"", ",", ":", "null", "true", "false", "\"__metadata__\"", "\"F32\"", "\"BF16\"", "\"dtype\"",
        "\"shape\"", "\"data_offsets\"", "\\ud800", "\\u0000", "\"\\udc00\"", "[[[[[[[[", "\"w\":{}", "é", "\t",
    ];

    private static readonly string[] Dtypes = ["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "Q4_K", "f32", ""];

    private static readonly long[] Dimensions = [0, 1, 2, 3, 7, 1 << 20, 1L << 31, 1L << 32, 1L << 62, long.MaxValue, -1];

    private static readonly string[] Names = ["w", "w", "a.weight", "__metadata__", "é", "", "x\\u0000y", "\\ud800"];

    private readonly Random _random = new(seed);

    /// <summary>A copy of <paramref name="valid"/> with one to four random mutations.</summary>
    public byte[] Mutate(byte[] valid)
    {
        var bytes = new List<byte>(valid);
        int mutations = _random.Next(1, 5);
        for (int m = 0; m < mutations; m++) MutateOnce(bytes);
        return [.. bytes];
    }

    /// <summary>Random bytes, or random JSON tokens, of up to <paramref name="maxLength"/> bytes.</summary>
    public byte[] Noise(int maxLength)
    {
        if (_random.Next(2) == 0)
        {
            var bytes = new byte[_random.Next(maxLength + 1)];
            _random.NextBytes(bytes);
            return bytes;
        }
        var text = new StringBuilder();
        while (text.Length < maxLength / 2) text.Append(Pick(_random.Next(2) == 0 ? Tokens : Numbers));
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>
    /// A safetensors header of zero to five tensors whose parts are each valid or not, with or without metadata, and the
    /// length of a data section to check it against (the sum of the tensors' sizes, or another).
    /// </summary>
    public (byte[] Header, long DataLength) Header()
    {
        var parts = new List<string>();
        long offset = 0;
        int count = _random.Next(6);
        for (int t = 0; t < count; t++)
        {
            string dtype = Pick(Dtypes);
            long[] shape = Enumerable.Range(0, _random.Next(4))
                .Select(_ => _random.Next(3) == 0 ? Pick(Dimensions) : _random.Next(5)).ToArray();
            long size = shape.Aggregate(4L, (product, d) => unchecked(product * d));
            long begin = _random.Next(4) switch
            {
                0 => offset - _random.Next(1, 8),
                1 => offset + _random.Next(1, 8),
                2 => Pick(Dimensions),
                _ => offset,
            };
            long end = _random.Next(4) == 0 ? Pick(Dimensions) : unchecked(begin + size);
            offset = end;
            string name = _random.Next(3) == 0 ? Pick(Names) : $"t{t}";
            parts.Add($"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{begin},{end}]}}");
        }
        if (_random.Next(3) == 0)
            parts.Insert(_random.Next(parts.Count + 1),
                _random.Next(2) == 0 ? "\"__metadata__\":{\"format\":\"x\",\"n\":\"1\"}" : "\"__metadata__\":{\"n\":1}");
        long dataLength = _random.Next(3) == 0 ? Pick(Dimensions) : Math.Max(0, offset);
        return (Encoding.UTF8.GetBytes("{" + string.Join(",", parts) + "}"), dataLength);
    }

    /// <summary>A copy of JSON text <paramref name="valid"/> with random mutations (invalid UTF-8 shows as U+FFFD).</summary>
    public string MutateText(string valid) => Encoding.UTF8.GetString(Mutate(Encoding.UTF8.GetBytes(valid)));

    private void MutateOnce(List<byte> bytes)
    {
        int at = _random.Next(bytes.Count + 1);
        switch (_random.Next(8))
        {
            case 0 when bytes.Count > 0:
                bytes[Math.Min(at, bytes.Count - 1)] ^= (byte)(1 << _random.Next(8));
                break;
            case 1 when at < bytes.Count:
                bytes.RemoveRange(at, _random.Next(1, Math.Min(16, bytes.Count - at) + 1));
                break;
            case 2 when at < bytes.Count:
                bytes.InsertRange(at, bytes.GetRange(at, _random.Next(1, Math.Min(32, bytes.Count - at) + 1)));
                break;
            case 3:
                ReplaceNumber(bytes);
                break;
            case 4:
                bytes.InsertRange(at, Encoding.UTF8.GetBytes(Pick(Tokens)));
                break;
            case 5:
                bytes.Insert(at, Pick<byte>([0xFF, 0xC3, 0xED, 0x80, 0x00]));
                break;
            case 6 when at < bytes.Count:
                bytes.RemoveRange(at, bytes.Count - at);
                break;
            default:
                if (bytes.Count > 0) bytes[Math.Min(at, bytes.Count - 1)] = (byte)_random.Next(256);
                break;
        }
    }

    /// <summary>Replaces the run of digits at a random place with an extreme number, when there is one.</summary>
    private void ReplaceNumber(List<byte> bytes)
    {
        var digits = Enumerable.Range(0, bytes.Count).Where(i => bytes[i] is >= (byte)'0' and <= (byte)'9').ToArray();
        if (digits.Length == 0) return;
        int start = Pick(digits), end = start;
        while (start > 0 && bytes[start - 1] is >= (byte)'0' and <= (byte)'9') start--;
        while (end < bytes.Count && bytes[end] is >= (byte)'0' and <= (byte)'9') end++;
        bytes.RemoveRange(start, end - start);
        bytes.InsertRange(start, Encoding.UTF8.GetBytes(Pick(Numbers)));
    }

    private T Pick<T>(T[] choices) => choices[_random.Next(choices.Length)];
}
