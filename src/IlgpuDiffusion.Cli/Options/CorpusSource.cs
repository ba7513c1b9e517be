using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// Where <c>train</c> reads its token shards: a folder made by <c>prepare</c> (<c>--data</c>) or the embedded corpus (<c>--embedded</c>).
/// </summary>
internal sealed class CorpusSource
{
    private readonly Option<string?> _data = new("--data")
    {
        HelpName = "folder",
        Description = "Folder of token shards made by 'prepare'",
    };

    private readonly Option<bool> _embedded = new("--embedded")
    {
        Description = "Train on the embedded State of the Union corpus, prepared at the model's length into the cache folder on first use",
    };

    /// <summary>Adds the options to <paramref name="command"/> and requires exactly one of them.</summary>
    public CorpusSource(Command command)
    {
        command.Options.Add(_data);
        command.Options.Add(_embedded);
        command.Validators.Add(result =>
        {
            bool hasData = result.GetValue(_data) is not null, hasEmbedded = result.GetValue(_embedded);
            if (hasData == hasEmbedded) result.AddError("Give either --data <folder> (made by 'prepare') or --embedded.");
        });
    }

    /// <summary>The <c>--data</c> folder, or null with <c>--embedded</c>.</summary>
    public string? Folder(ParseResult parse) => parse.GetValue(_data);

    /// <summary>
    /// Opens the prepared shards: the <c>--data</c> folder, which must be made by <paramref name="tokenizer"/> when one is
    /// given, or the embedded corpus at <paramref name="length"/>, tokenized by <paramref name="tokenizer"/> (GPT-2 when null).
    /// </summary>
    /// <exception cref="FileNotFoundException">The folder holds no prepared corpus.</exception>
    /// <exception cref="InvalidDataException">The folder was prepared with another tokenizer.</exception>
    public PreparedCorpus Open(ParseResult parse, int length, Tokenizer? tokenizer, CliConsole console) =>
        parse.GetValue(_embedded)
            ? PrepareEmbedded(length, tokenizer ?? Gpt2Tokenizer.Shared, console)
            : PreparedCorpus.Open(parse.GetValue(_data)!, tokenizer);

    /// <summary>
    /// Prepares (or reuses) the embedded corpus at <paramref name="length"/> with <paramref name="tokenizer"/> in the cache folder
    /// and says so.
    /// </summary>
    public static PreparedCorpus PrepareEmbedded(int length, Tokenizer tokenizer, CliConsole console)
    {
        var options = new CorpusPreparationOptions { SequenceLength = length, Tokenizer = tokenizer };
        PreparedCorpus corpus = ProgressBars.Preparation(console, progress =>
            EmbeddedCorpus.PrepareStateOfTheUnion(options, progress: progress));
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Embedded corpus: {EmbeddedCorpus.StateOfTheUnionDocuments} State of the Union addresses, " +
            $"{(corpus.Reused ? "reused" : "prepared")} at L {length} with the {tokenizer.Name} tokenizer in {corpus.Directory}"));
        return corpus;
    }
}
