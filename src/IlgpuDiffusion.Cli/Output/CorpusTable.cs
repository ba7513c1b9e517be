using System.Globalization;
using IlgpuDiffusion.Data;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>A prepared corpus as a table: settings, and documents, tokens, sequences and shards per split.</summary>
internal static class CorpusTable
{
    /// <summary>The table of <paramref name="corpus"/>.</summary>
    public static Table Of(PreparedCorpus corpus)
    {
        ShardMetadata m = corpus.Metadata;
        return SettingsTable.Of("Prepared corpus", [
            ("folder", corpus.Directory),
            ("sources", $"{m.Sources.Count} file(s)"),
            ("tokenizer", $"{m.Tokenizer} (vocabulary {m.VocabularySize})"),
            ("sequence length", Number(m.SequenceLength)),
            ("validation fraction", m.ValidationFraction.ToString("G", CultureInfo.InvariantCulture)),
            ("split seed", m.Seed.ToString(CultureInfo.InvariantCulture)),
            ("training", Split(m.Train)),
            ("validation", Split(m.Validation)),
            ("prepared", string.Create(CultureInfo.InvariantCulture,
                $"{m.CreatedUtc:yyyy-MM-dd HH:mm} UTC in {m.ElapsedSeconds:F1} s " +
                $"({m.TokensPerSecond:N0} tokens/s){(corpus.Reused ? "; reused now" : "")}")),
        ]);
    }

    private static string Split(SplitSummary split) => string.Create(CultureInfo.InvariantCulture,
        $"{split.Documents:N0} documents, {split.Tokens:N0} tokens, {split.Sequences:N0} sequences in {split.Shards.Count} shard(s)");

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
