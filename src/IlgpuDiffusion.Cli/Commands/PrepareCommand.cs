using System.CommandLine;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary><c>prepare</c>: corpus files and folders (or the embedded corpus) → MDLM token shards.</summary>
internal static class PrepareCommand
{
    /// <summary>The <c>--format</c> values; "auto" (null) decides per file by extension.</summary>
    private static readonly IReadOnlyDictionary<string, CorpusFileFormat?> Formats = new Dictionary<string, CorpusFileFormat?>
    {
        ["auto"] = null,
        ["text"] = CorpusFileFormat.PlainText,
        ["jsonl"] = CorpusFileFormat.JsonLines,
        ["parquet"] = ParquetCorpusFormat.Instance,
    };

    private static readonly IReadOnlyDictionary<string, PlainTextDocuments> Documents = new Dictionary<string, PlainTextDocuments>
    {
        ["file"] = PlainTextDocuments.FilePerDocument,
        ["blank-line"] = PlainTextDocuments.BlankLineSeparated,
    };

    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var defaults = new CorpusPreparationOptions();
        var command = new Command("prepare", "Tokenize a corpus (GPT-2 BPE, or UTF-8 bytes with --tokenizer bytes) into MDLM token " +
            "shards: documents split into training and validation, wrapped as [BOS] + tokens + [EOS] sequences of the given length, " +
            "with metadata.json beside the shards. Re-running on unchanged inputs reuses the shards.");
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "Corpus files and folders: .txt/.md (plain text), .jsonl (field 'text'), .parquet (column 'text')",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var embedded = new Option<bool>("--embedded")
        {
            Description = "Prepare the embedded corpus instead: the 233 State of the Union addresses 1790–2021 (2.07M tokens)",
        };
        var output = new Option<string?>("--output", "-o")
        {
            HelpName = "folder",
            Description = "Folder for the shards (required for your own corpus; the embedded one goes to the cache folder by default)",
        };
        var length = new Option<int>("--length", "-l")
        {
            Description = "Sequence length L in tokens, BOS and EOS included",
            DefaultValueFactory = _ => defaults.SequenceLength,
        }.Require(l => l >= 3, "at least 3");
        var validationFraction = new Option<double>("--validation-fraction")
        {
            Description = "Share of whole documents held out for validation, in [0, 1)",
            DefaultValueFactory = _ => defaults.ValidationFraction,
        }.Require(f => f >= 0 && f < 1, "in [0, 1)");
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of the training/validation split",
            DefaultValueFactory = _ => defaults.Seed,
        };
        var format = new Option<string>("--format")
        {
            Description = "Input format: auto (by file extension), text, jsonl or parquet",
            DefaultValueFactory = _ => "auto",
        };
        format.AcceptOnlyFromAmong([.. Formats.Keys]);
        var documents = new Option<string>("--documents")
        {
            Description = "How plain text is cut into documents: file (one per file) or blank-line (separated by blank lines)",
            DefaultValueFactory = _ => "file",
        };
        documents.AcceptOnlyFromAmong([.. Documents.Keys]);
        var textField = new Option<string>("--text-field")
        {
            Description = "JSON field or Parquet column holding the text",
            DefaultValueFactory = _ => defaults.Reader.TextField,
        };
        Option<string?> tokenizer = TokenizerOption.Create($"Tokenizer of the shards: {TokenizerOption.Choices} [default: gpt2]");
        var shardSequences = new Option<int>("--shard-sequences")
        {
            Description = "Sequences per shard file",
            DefaultValueFactory = _ => defaults.SequencesPerShard,
        }.Positive();
        foreach (Option option in new Option[] { embedded, output, length, tokenizer, validationFraction, seed, format, documents,
            textField, shardSequences })
            command.Options.Add(option);
        command.Arguments.Add(inputs);
        command.Validators.Add(result =>
        {
            bool hasInputs = result.GetValue(inputs) is { Length: > 0 };
            if (result.GetValue(embedded) == hasInputs)
                result.AddError("Give corpus files or folders, or --embedded (not both).");
            else if (hasInputs && result.GetValue(output) is null)
                result.AddError("Give the shard folder with --output.");
        });

        command.SetAction(parse =>
        {
            var options = new CorpusPreparationOptions
            {
                SequenceLength = parse.GetValue(length),
                ValidationFraction = parse.GetValue(validationFraction),
                Seed = parse.GetValue(seed),
                SequencesPerShard = parse.GetValue(shardSequences),
                Tokenizer = parse.GetTokenizer(tokenizer) ?? Gpt2Tokenizer.Shared,
                Reader = new CorpusReaderOptions
                {
                    Format = Formats[parse.GetValue(format)!],
                    PlainText = Documents[parse.GetValue(documents)!],
                    TextField = parse.GetValue(textField)!,
                }.WithParquet(),
            };
            string? folder = parse.GetValue(output);
            if (folder is not null) OutputPaths.RequireFolder(folder, "--output");
            PreparedCorpus corpus = ProgressBars.Preparation(console, progress => parse.GetValue(embedded)
                ? folder is null
                    ? EmbeddedCorpus.PrepareStateOfTheUnion(options, progress: progress)
                    : CorpusPreparer.Prepare([EmbeddedCorpus.ExtractStateOfTheUnion()], folder, options, progress)
                : CorpusPreparer.Prepare(parse.GetValue(inputs)!, folder!, options, progress));
            console.OutConsole.Write(CorpusTable.Of(corpus));
            console.Out.WriteLine($"Train on it with: {CliApplication.Name} train --data \"{corpus.Directory}\"");
            return CliApplication.Success;
        });
        return command;
    }
}
