namespace IlgpuDiffusion.Data;

/// <summary>
/// Reads a UTF-8 file line by line, decoding each line strictly on its own so that an invalid
/// byte sequence is reported with its exact line number. Lines end at <c>\n</c>; a trailing
/// <c>\r</c> is removed, and so is a BOM at the start of the file.
/// </summary>
internal static class Utf8LineReader
{
    private const int ChunkSize = 1 << 16;

    /// <summary>The lines of <paramref name="path"/>, numbered from 1.</summary>
    /// <exception cref="InvalidDataException">A line is not valid UTF-8 (the message names file and line).</exception>
    public static IEnumerable<(long Number, string Text)> Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        var chunk = new byte[ChunkSize];
        var line = new byte[ChunkSize];
        int lineLength = 0;
        long number = 0;
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            int start = 0;
            while (start < read)
            {
                int newline = chunk.AsSpan(start, read - start).IndexOf((byte)'\n');
                int end = newline < 0 ? read : start + newline;
                Append(ref line, ref lineLength, chunk.AsSpan(start, end - start));
                start = end + 1;
                if (newline < 0) break;
                yield return (++number, Decode(path, number, line.AsSpan(0, lineLength)));
                lineLength = 0;
            }
        }
        if (lineLength > 0) yield return (++number, Decode(path, number, line.AsSpan(0, lineLength)));
    }

    private static void Append(ref byte[] line, ref int lineLength, ReadOnlySpan<byte> bytes)
    {
        if (lineLength + bytes.Length > line.Length) Array.Resize(ref line, Math.Max(line.Length * 2, lineLength + bytes.Length));
        bytes.CopyTo(line.AsSpan(lineLength));
        lineLength += bytes.Length;
    }

    private static string Decode(string path, long number, ReadOnlySpan<byte> bytes)
    {
        if (bytes.EndsWith((byte)'\r')) bytes = bytes[..^1];
        if (number == 1) bytes = StrictUtf8.WithoutBom(bytes);
        return StrictUtf8.Decode(bytes, $"{path}, line {number}");
    }
}
