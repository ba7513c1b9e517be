using System.Text.Encodings.Web;
using System.Text.Json;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>How <c>sample</c> writes its sequences.</summary>
internal enum SampleFormat
{
    /// <summary>
    /// The decoded text, documents separated by an empty line, with a header line before each sample when there are several.
    /// </summary>
    Text,

    /// <summary>
    /// One JSON object per sample: <c>{"sample":i,"text":"...","ids":[...]}</c>; the text keeps document ends as
    /// <c>&lt;|endoftext|&gt;</c>.
    /// </summary>
    JsonLines,
}

/// <summary>Writes sampled sequences as text or JSON lines.</summary>
internal static class SampleWriter
{
    /// <summary>
    /// Writes every sequence of <paramref name="result"/> to <paramref name="writer"/>, decoded by <paramref name="tokenizer"/>.
    /// </summary>
    public static void Write(TextWriter writer, SamplingResult result, SampleFormat format, Tokenizer tokenizer) =>
        Write(writer, Enumerable.Range(0, result.BatchSize).Select(i => result.Sequence(i).ToArray()).ToArray(), format, tokenizer);

    /// <summary>Writes <paramref name="sequences"/> (token ids each, BOS first) to <paramref name="writer"/>.</summary>
    public static void Write(TextWriter writer, IReadOnlyList<int[]> sequences, SampleFormat format, Tokenizer tokenizer)
    {
        for (int i = 0; i < sequences.Count; i++)
        {
            ReadOnlySpan<int> ids = sequences[i];
            if (format == SampleFormat.JsonLines)
            {
                writer.WriteLine(JsonLine(i, SampleText.Decode(ids, tokenizer), ids));
                continue;
            }
            if (sequences.Count > 1) writer.WriteLine($"=== sample {i + 1} of {sequences.Count} ===");
            writer.WriteLine(SampleText.DecodeDocuments(ids, tokenizer));
        }
        writer.Flush();
    }

    /// <summary>Non-ASCII text stays readable; quotes and control characters are still escaped.</summary>
    private static readonly JsonWriterOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string JsonLine(int index, string text, ReadOnlySpan<int> ids)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Json))
        {
            json.WriteStartObject();
            json.WriteNumber("sample", index);
            json.WriteString("text", text);
            json.WriteStartArray("ids");
            foreach (int id in ids) json.WriteNumberValue(id);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
