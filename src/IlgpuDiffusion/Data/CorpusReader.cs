namespace IlgpuDiffusion.Data;

/// <summary>
/// The documents of a corpus given as files and folders, in a fixed order: inputs in the order
/// given, folders walked recursively in ordinal path order. Each file is read in the format of
/// <see cref="CorpusReaderOptions.Format"/>, or the one of <see cref="CorpusReaderOptions.Formats"/> that claims
/// its extension.
/// </summary>
public sealed class CorpusReader
{
    /// <summary>Extensions of formats that live in packages of their own, for the error that names the package.</summary>
    private static readonly Dictionary<string, string> PackagedExtensions = new() { [".parquet"] = "IlgpuDiffusion.Parquet" };

    private readonly CorpusReaderOptions _options;

    /// <summary>Finds the corpus files under <paramref name="inputs"/>.</summary>
    /// <exception cref="FileNotFoundException">An input path does not exist.</exception>
    /// <exception cref="InvalidDataException">The inputs hold no corpus file.</exception>
    public CorpusReader(IEnumerable<string> inputs, CorpusReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        _options = options ?? new CorpusReaderOptions();
        string[] paths = inputs.Select(Path.GetFullPath).ToArray();
        if (paths.Length == 0) throw new ArgumentException("No corpus input was given: pass at least one file or folder.", nameof(inputs));
        Files = paths.SelectMany(Expand).ToArray();
        if (Files.Count == 0)
            throw new InvalidDataException($"Empty corpus: {string.Join(", ", paths)} holds no corpus file " +
                $"({string.Join(", ", _options.Formats.SelectMany(f => f.Extensions))}). Point the corpus at files with text in them.");
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
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public int CountDocuments(CancellationToken cancellationToken = default)
    {
        int count = 0;
        foreach (CorpusDocument _ in ReadDocuments())
        {
            cancellationToken.ThrowIfCancellationRequested();
            count = checked(count + 1);
        }
        if (count == 0)
            throw new InvalidDataException($"Empty corpus: {Describe()} contains no non-empty document. " +
                "Point the corpus at files with text in them.");
        return count;
    }

    private IEnumerable<string> Expand(string path)
    {
        if (File.Exists(path))
        {
            CheckPackaged(path);
            CheckKnownFormat(path);
            return [path];
        }
        if (!Directory.Exists(path))
            throw new FileNotFoundException($"Corpus input not found: {path}. Check the path (files and folders are accepted).", path);
        string[] files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        foreach (string file in files) CheckPackaged(file);
        return files.Where(file => _options.Format is not null || FormatByExtension(file) is not null);
    }

    private IEnumerable<CorpusDocument> ReadFile(string file) =>
        (_options.Format ?? FormatByExtension(file) ?? CorpusFileFormat.PlainText).Read(file, _options);

    private CorpusFileFormat? FormatByExtension(string file)
    {
        string extension = Path.GetExtension(file).ToLowerInvariant();
        return _options.Formats.FirstOrDefault(format => format.Extensions.Contains(extension));
    }

    /// <summary>
    /// Refuses a file named on its own whose extension no format claims (a <c>.csv</c> is not plain text); a file without an
    /// extension is read as plain text, and a forced <see cref="CorpusReaderOptions.Format"/> reads anything.
    /// </summary>
    private void CheckKnownFormat(string file)
    {
        string extension = Path.GetExtension(file);
        if (_options.Format is not null || extension.Length == 0 || FormatByExtension(file) is not null) return;
        throw new InvalidDataException($"{file}: {extension} is not a corpus format here (" +
            $"{string.Join(", ", _options.Formats.SelectMany(f => f.Extensions))}); to read it as plain text anyway, force the " +
            "plain text format (prepare --format text).");
    }

    /// <summary>Refuses a file whose format no reader here claims but a package of its own would read.</summary>
    private void CheckPackaged(string file)
    {
        string extension = Path.GetExtension(file).ToLowerInvariant();
        if (_options.Format is null && FormatByExtension(file) is null && PackagedExtensions.TryGetValue(extension, out string? package))
            throw new InvalidDataException($"{file}: reading {extension} files needs the {package} package " +
                "(add it and pass CorpusReaderOptions with its format, e.g. options.WithParquet()).");
    }
}
