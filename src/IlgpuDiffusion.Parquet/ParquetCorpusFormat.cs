namespace IlgpuDiffusion.Data;

/// <summary>
/// Parquet corpus files (<c>.parquet</c>, e.g. Hugging Face dataset shards such as OpenWebText): the documents are the
/// values of the top-level string column <see cref="CorpusReaderOptions.TextField"/>, row group by row group, with
/// nulls and empty values skipped and the text decoded as strict UTF-8.
/// </summary>
public sealed class ParquetCorpusFormat : CorpusFileFormat
{
    private ParquetCorpusFormat()
    {
    }

    /// <summary>The format.</summary>
    public static ParquetCorpusFormat Instance { get; } = new();

    /// <inheritdoc/>
    public override string Name => "Parquet";

    /// <inheritdoc/>
    public override IReadOnlyList<string> Extensions { get; } = [".parquet"];

    /// <inheritdoc/>
    public override IEnumerable<CorpusDocument> Read(string path, CorpusReaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ParquetTextReader.Read(path, options.TextField);
    }
}

/// <summary>Adds Parquet input to corpus reading.</summary>
public static class ParquetCorpusReaderOptions
{
    /// <summary>These options with <c>.parquet</c> files read by <see cref="ParquetCorpusFormat"/>.</summary>
    public static CorpusReaderOptions WithParquet(this CorpusReaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.WithFormat(ParquetCorpusFormat.Instance);
    }
}
