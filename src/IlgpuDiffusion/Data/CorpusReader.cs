namespace IlgpuDiffusion.Data;

/// <summary>
/// The documents of a corpus given as files and folders, in a fixed order: inputs in the order
/// given, folders walked recursively in ordinal path order. Each file is read as plain text,
/// JSON lines or Parquet (see <see cref="CorpusFormat"/>).
/// </summary>
public sealed class CorpusReader
{
    private static readonly string[] PlainTextExtensions = [".txt", ".text", ".md"];
    private static readonly string[] JsonLinesExtensions = [".jsonl", ".ndjson"];
    private const string ParquetExtension = ".parquet";

    private readonly CorpusReaderOptions options;

    /// <summary>Finds the corpus files under <paramref name="inputs"/>.</summary>
    /// <exception cref="FileNotFoundException">An input path does not exist.</exception>
    /// <exception cref="InvalidDataException">The inputs hold no corpus file.</exception>
    public CorpusReader(IEnumerable<string> inputs, CorpusReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        this.options = options ?? new CorpusReaderOptions();
        string[] paths = inputs.Select(Path.GetFullPath).ToArray();
        if (paths.Length == 0) throw new ArgumentException("No corpus input was given: pass at least one file or folder.", nameof(inputs));
        Files = paths.SelectMany(Expand).ToArray();
        if (Files.Count == 0)
            throw new InvalidDataException($"Empty corpus: {string.Join(", ", paths)} holds no corpus file " +
                "(.txt, .text, .md, .jsonl, .ndjson or .parquet). Point the corpus at files with text in them.");
    }

    /// <summary>Full paths of the corpus files, in reading order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>Short description of the inputs for messages: the first file, and how many more.</summary>
    public string Describe() => Files.Count == 1 ? Files[0] : $"{Files[0]} and {Files.Count - 1} more file(s)";

    /// <summary>Every non-empty document, in corpus order.</summary>
    /// <exception cref="InvalidDataException">A file is not valid UTF-8, not valid JSON, or lacks the text field/column.</exception>
    public IEnumerable<CorpusDocument> ReadDocuments() => Files.SelectMany(ReadFile);

    /// <summary>Reads the whole corpus once and counts its documents.</summary>
    /// <exception cref="InvalidDataException">The corpus holds no non-empty document, or a file is invalid.</exception>
    public int CountDocuments()
    {
        int count = 0;
        foreach (CorpusDocument _ in ReadDocuments()) count = checked(count + 1);
        if (count == 0)
            throw new InvalidDataException($"Empty corpus: {Describe()} contains no non-empty document. " +
                "Point the corpus at files with text in them.");
        return count;
    }

    private IEnumerable<string> Expand(string path)
    {
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path))
            throw new FileNotFoundException($"Corpus input not found: {path}. Check the path (files and folders are accepted).", path);
        return Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            .Where(file => options.Format != CorpusFormat.Auto || FormatByExtension(file) is not null)
            .Order(StringComparer.Ordinal);
    }

    private IEnumerable<CorpusDocument> ReadFile(string file) =>
        (options.Format == CorpusFormat.Auto ? FormatByExtension(file) ?? CorpusFormat.PlainText : options.Format) switch
        {
            CorpusFormat.JsonLines => JsonLinesReader.Read(file, options.TextField),
            CorpusFormat.Parquet => ParquetTextReader.Read(file, options.TextField),
            _ => PlainTextReader.Read(file, options.PlainText),
        };

    private static CorpusFormat? FormatByExtension(string file)
    {
        string extension = Path.GetExtension(file).ToLowerInvariant();
        if (PlainTextExtensions.Contains(extension)) return CorpusFormat.PlainText;
        if (JsonLinesExtensions.Contains(extension)) return CorpusFormat.JsonLines;
        return extension == ParquetExtension ? CorpusFormat.Parquet : null;
    }
}
