namespace IlgpuDiffusion.Data;

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
    /// <summary>
    /// The format of every input file, or null to decide per file by extension among <see cref="Formats"/>: inside
    /// folders, files no format claims are skipped; a file named explicitly with an unclaimed extension is read as
    /// plain text.
    /// </summary>
    public CorpusFileFormat? Format { get; init; }

    /// <summary>The formats chosen by extension (<see cref="CorpusFileFormat.BuiltIn"/> unless a package adds more).</summary>
    public IReadOnlyList<CorpusFileFormat> Formats { get; init; } = CorpusFileFormat.BuiltIn;

    /// <summary>How plain-text files are cut into documents.</summary>
    public PlainTextDocuments PlainText { get; init; } = PlainTextDocuments.FilePerDocument;

    /// <summary>JSON field or Parquet column that holds the document text.</summary>
    public string TextField { get; init; } = "text";

    /// <summary>These options with <paramref name="format"/> added to <see cref="Formats"/> (unless already there).</summary>
    public CorpusReaderOptions WithFormat(CorpusFileFormat format)
    {
        ArgumentNullException.ThrowIfNull(format);
        return Formats.Any(known => known.Name == format.Name) ? this : this with { Formats = [.. Formats, format] };
    }
}

/// <summary>One document of a corpus: its text and the file it came from.</summary>
/// <param name="Source">Full path of the file holding the document.</param>
/// <param name="Text">The document text (never empty).</param>
public readonly record struct CorpusDocument(string Source, string Text);
