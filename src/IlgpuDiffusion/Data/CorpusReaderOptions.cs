namespace IlgpuDiffusion.Data;

/// <summary>File format of corpus inputs.</summary>
public enum CorpusFormat
{
    /// <summary>
    /// Decide by file extension: <c>.txt</c>, <c>.text</c>, <c>.md</c> are plain text; <c>.jsonl</c>,
    /// <c>.ndjson</c> are JSON lines; <c>.parquet</c> is Parquet. Inside folders, files with other
    /// extensions are skipped; a file named explicitly with another extension is read as plain text.
    /// </summary>
    Auto,

    /// <summary>UTF-8 plain text; see <see cref="PlainTextDocuments"/>.</summary>
    PlainText,

    /// <summary>One JSON object per line; the document is the string field <see cref="CorpusReaderOptions.TextField"/>.</summary>
    JsonLines,

    /// <summary>Parquet file (e.g. a Hugging Face dataset shard) with a string column <see cref="CorpusReaderOptions.TextField"/>.</summary>
    Parquet,
}

/// <summary>How a plain-text file is cut into documents.</summary>
public enum PlainTextDocuments
{
    /// <summary>Each file is one document.</summary>
    FilePerDocument,

    /// <summary>Documents are separated by one or more blank (empty or whitespace-only) lines.</summary>
    BlankLineSeparated,
}

/// <summary>How corpus inputs are found and parsed into documents.</summary>
public sealed record CorpusReaderOptions
{
    /// <summary>Input format; <see cref="CorpusFormat.Auto"/> decides per file by extension.</summary>
    public CorpusFormat Format { get; init; } = CorpusFormat.Auto;

    /// <summary>How plain-text files are cut into documents.</summary>
    public PlainTextDocuments PlainText { get; init; } = PlainTextDocuments.FilePerDocument;

    /// <summary>JSON field or Parquet column that holds the document text.</summary>
    public string TextField { get; init; } = "text";
}

/// <summary>One document of a corpus: its text and the file it came from.</summary>
/// <param name="Source">Full path of the file holding the document.</param>
/// <param name="Text">The document text (never empty).</param>
public readonly record struct CorpusDocument(string Source, string Text);
