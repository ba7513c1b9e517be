using System.Text;

namespace IlgpuDiffusion.Data;

/// <summary>UTF-8 decoding that rejects invalid bytes with a message naming the file.</summary>
internal static class StrictUtf8
{
    private static readonly UTF8Encoding Encoding = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Decodes <paramref name="bytes"/>; an invalid sequence is reported with <paramref name="where"/> and its offset.</summary>
    /// <param name="where">Names the bytes in the error message, e.g. "file.parquet, row group 0, row 17".</param>
    /// <exception cref="InvalidDataException">The bytes are not valid UTF-8.</exception>
    public static string Decode(ReadOnlySpan<byte> bytes, string where)
    {
        try
        {
            return Encoding.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{where}: the text is not valid UTF-8 (invalid byte sequence near byte offset {e.Index}). " +
                "Convert the file to UTF-8 or remove it from the corpus.", e);
        }
    }

    /// <summary><paramref name="bytes"/> without a leading UTF-8 byte-order mark.</summary>
    public static ReadOnlySpan<byte> WithoutBom(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes[3..] : bytes;
}
