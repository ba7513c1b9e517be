namespace IlgpuDiffusion.Data;

/// <summary>
/// A corpus file format: the file extensions it claims and how one file becomes documents. The library reads plain
/// text and JSON lines; other formats plug in through <see cref="CorpusReaderOptions.Formats"/> (the
/// <c>IlgpuDiffusion.Parquet</c> package adds Parquet).
/// </summary>
public abstract class CorpusFileFormat
{
    /// <summary>
    /// UTF-8 plain text (<c>.txt</c>, <c>.text</c>, <c>.md</c>), cut into documents per <see cref="CorpusReaderOptions.PlainText"/>.
    /// </summary>
    public static CorpusFileFormat PlainText { get; } = new PlainTextFormat();

    /// <summary>
    /// JSON lines (<c>.jsonl</c>, <c>.ndjson</c>): one JSON object per line, the document is the string field
    /// <see cref="CorpusReaderOptions.TextField"/>.
    /// </summary>
    public static CorpusFileFormat JsonLines { get; } = new JsonLinesFormat();

    /// <summary>The formats every reader knows: plain text and JSON lines.</summary>
    public static IReadOnlyList<CorpusFileFormat> BuiltIn { get; } = [PlainText, JsonLines];

    /// <summary>The format's name in settings and preparation keys (e.g. <c>PlainText</c>).</summary>
    public abstract string Name { get; }

    /// <summary>File extensions, lower case with the dot, that this format reads when the format is chosen by extension.</summary>
    public abstract IReadOnlyList<string> Extensions { get; }

    /// <summary>The non-empty documents of <paramref name="path"/>, in file order.</summary>
    /// <exception cref="InvalidDataException">The file is not valid in this format or lacks the text field.</exception>
    public abstract IEnumerable<CorpusDocument> Read(string path, CorpusReaderOptions options);

    /// <inheritdoc/>
    public override string ToString() => Name;

    private sealed class PlainTextFormat : CorpusFileFormat
    {
        public override string Name => "PlainText";

        public override IReadOnlyList<string> Extensions { get; } = [".txt", ".text", ".md"];

        public override IEnumerable<CorpusDocument> Read(string path, CorpusReaderOptions options) =>
            PlainTextReader.Read(path, options.PlainText);
    }

    private sealed class JsonLinesFormat : CorpusFileFormat
    {
        public override string Name => "JsonLines";

        public override IReadOnlyList<string> Extensions { get; } = [".jsonl", ".ndjson"];

        public override IEnumerable<CorpusDocument> Read(string path, CorpusReaderOptions options) =>
            JsonLinesReader.Read(path, options.TextField);
    }
}
