using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary>
/// <c>eval</c>: evaluate diffusion checkpoints (and an AR baseline) with <see cref="EvaluationSuite"/> and write
/// <c>evaluation.json</c> and <c>evaluation.md</c> into the output folder.
/// </summary>
internal static class EvalCommand
{
    private static readonly EvaluationOptions Defaults = new();

    /// <summary>The <c>--parts</c> names.</summary>
    private static readonly Dictionary<string, EvaluationParts> PartNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["validation"] = EvaluationParts.ValidationPerplexity,
        ["genppl"] = EvaluationParts.GenerativePerplexity,
        ["prompted"] = EvaluationParts.PromptedGeneration,
        ["lambada"] = EvaluationParts.Lambada,
        ["cloze"] = EvaluationParts.Cloze,
    };

    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("eval",
            "Evaluate diffusion models: validation perplexity (NELBO bound), generative perplexity with entropy at each " +
            "step count, MAUVE and self-BLEU of prompted continuations, LAMBADA and a LAMBADA-style cloze; an AR baseline side by side. " +
            "Writes evaluation.json and evaluation.md.");
        var models = new Argument<string[]>("models")
        {
            Description = "Diffusion models: training checkpoints (EMA weights), Hugging Face model folders or repository ids " +
                "(org/name) in the local Hugging Face cache; " +
                "rows are named after the files",
            Arity = ArgumentArity.OneOrMore,
        };
        command.Arguments.Add(models);
        var ar = new Option<string?>("--ar")
        {
            HelpName = "path",
            Description = "The AR baseline: an own GPT checkpoint (EMA weights), a GPT-2 Hugging Face folder or repository id",
        };
        var judge = new Option<string?>("--judge")
        {
            HelpName = "path",
            Description = "The judge of generative perplexity and the feature model of MAUVE: " +
                "an own GPT checkpoint, a GPT-2 Hugging Face folder or repository id (e.g. openai-community/gpt2-large) [default: --ar]",
        };
        var data = new Option<string?>("--data")
        {
            HelpName = "folder",
            Description = "Folder made by 'prepare' whose validation shards give validation perplexity, prompts and the cloze",
        };
        var steps = new StepCountList("Sampling step counts",
            Defaults.Steps.Select(n => n.ToString(CultureInfo.InvariantCulture)).ToArray(), allowLength: false, "-n");
        var samples = new Option<int>("--samples")
        {
            Description = "Unconditional samples per model and step count",
            DefaultValueFactory = _ => Defaults.Samples,
        }.Positive();
        var length = new Option<int?>("--length", "-l")
        {
            Description = "Tokens per unconditional sample [default: the model's length]",
        }.Positive();
        var batch = new Option<int>("--batch", "-b")
        {
            Description = "Sequences sampled and scored together",
            DefaultValueFactory = _ => Defaults.BatchSize,
        }.Positive();
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of the samples, time draws and masks",
            DefaultValueFactory = _ => Defaults.Seed,
        };
        var prompts = new Option<int>("--prompts")
        {
            Description = "Held-out prompts for MAUVE and self-BLEU (5 continuations each)",
            DefaultValueFactory = _ => Defaults.Prompts,
        }.Positive();
        var promptLength = new Option<int>("--prompt-length")
        {
            Description = "Prompt tokens",
            DefaultValueFactory = _ => Defaults.PromptLength,
        }.Positive();
        var continuationLength = new Option<int>("--continuation-length")
        {
            Description = "Continuation tokens",
            DefaultValueFactory = _ => Defaults.ContinuationLength,
        }.Positive();
        var lambada = new Option<string?>("--lambada")
        {
            HelpName = "file",
            Description = "LAMBADA in lambada_test.jsonl format (one {\"text\": ...} per line)",
        };
        var maxLambada = new Option<int?>("--max-lambada") { Description = "Score only the first N LAMBADA passages" }.Positive();
        var draws = new Option<int>("--lambada-draws")
        {
            Description = "Time draws of the diffusion LAMBADA ELBO",
            DefaultValueFactory = _ => Defaults.LambadaTimeDraws,
        }.Positive();
        var validationBatches = new Option<int>("--validation-batches")
        {
            Description = "Most validation batches (0: the whole split)",
            DefaultValueFactory = _ => 0,
        }.NotNegative();
        var parts = new Option<string[]>("--parts")
        {
            Description = "Which parts run: validation (validation perplexity and the context check, CE at t = 0.1 and 0.9), " +
                "genppl (unconditional samples per step count), prompted (MAUVE, self-BLEU), lambada, cloze",
            DefaultValueFactory = _ => [.. PartNames.Keys],
            AllowMultipleArgumentsPerToken = true,
        };
        parts.AcceptOnlyFromAmong([.. PartNames.Keys]);
        var output = new Option<string>("--output", "-o")
        {
            HelpName = "folder",
            Description = "Where evaluation.json and evaluation.md go",
            DefaultValueFactory = _ => "ilgpu-diffusion-eval",
        };
        var device = new DeviceOptions(command);
        foreach (Option option in new Option[] { ar, judge, data, steps.Option, samples, length, batch, seed, prompts, promptLength,
            continuationLength, lambada, maxLambada, draws, validationBatches, parts, output })
            command.Options.Add(option);
        command.Validators.Add(result =>
        {
            var given = new GivenInputs(result.GetValue(judge) is not null || result.GetValue(ar) is not null,
                result.GetValue(data) is not null, result.GetValue(lambada) is not null);
            bool partsGiven = result.GetResult(parts) is { Implicit: false };
            string[] asked = partsGiven ? result.GetValue(parts) ?? [] : [.. PartNames.Keys];
            if (partsGiven)
            {
                foreach (string part in asked.Distinct(StringComparer.OrdinalIgnoreCase))
                    if (given.Missing(PartNames[part]) is string missing) result.AddError($"--parts {part} needs {missing}.");
            }
            else if (asked.All(part => given.Missing(PartNames[part]) is not null))
            {
                result.AddError("There is nothing to evaluate: give --data (validation perplexity, cloze), --judge or --ar " +
                    "(generative perplexity; with --data also MAUVE and self-BLEU) or --lambada.");
            }
        });

        command.SetAction(parse =>
        {
            string folder = parse.GetValue(output)!;
            OutputPaths.RequireFolder(folder, "--output");
            string?[] inputFiles = [.. parse.GetValue(models)!, parse.GetValue(ar), parse.GetValue(judge), parse.GetValue(lambada)];
            foreach (string file in new[] { EvaluationSuite.JsonFileName, EvaluationSuite.MarkdownFileName })
                OutputPaths.RequireNotAnInput(Path.Combine(folder, file), "--output", inputFiles);
            var options = new EvaluationOptions
            {
                Parts = parse.GetValue(parts)!.Aggregate(EvaluationParts.None, (all, name) => all | PartNames[name]),
                Steps = steps.Parse(parse),
                Samples = parse.GetValue(samples),
                SampleLength = parse.GetValue(length),
                BatchSize = parse.GetValue(batch),
                Seed = parse.GetValue(seed),
                Prompts = parse.GetValue(prompts),
                PromptLength = parse.GetValue(promptLength),
                ContinuationLength = parse.GetValue(continuationLength),
                LambadaTimeDraws = parse.GetValue(draws),
                MaxLambadaExamples = parse.GetValue(maxLambada),
                ValidationBatchSize = parse.GetValue(batch),
                ValidationBatches = parse.GetValue(validationBatches),
            }.Validate();
            using Device opened = device.Open(parse);
            var loaded = new List<IDisposable>();
            try
            {
                EvaluationReport report = ProgressBars.Evaluation(console, progress => Report(console, progress), progress =>
                {
                    string[] modelPaths = parse.GetValue(models)!;
                    string? arPath = parse.GetValue(ar), judgePath = parse.GetValue(judge) ?? arPath;
                    ModelSource? arSource = arPath is null ? null : ModelSource.Resolve(arPath);
                    ModelSource? judgeSource = judgePath is null ? null
                        : judgePath == arPath ? arSource : ModelSource.Resolve(judgePath);
                    int files = modelPaths.Length + (arPath is null ? 0 : 1) + (judgePath is null || judgePath == arPath ? 0 : 1), done = 0;
                    string loading = string.Create(CultureInfo.InvariantCulture, $"{files} model file(s)");
                    progress(new EvaluationProgress(LoadingStage, loading, null, done, files));
                    var subjects = new List<DiffusionSubject>();
                    foreach (string path in modelPaths)
                    {
                        Dit dit = ModelLoading.LoadDiffusion(ModelSource.Resolve(path), opened);
                        loaded.Add(dit);
                        subjects.Add(new DiffusionSubject(Label(path), dit));
                        progress(new EvaluationProgress(LoadingStage, loading, null, ++done, files));
                    }
                    Gpt? arModel = arSource is null ? null : ModelLoading.LoadGpt(arSource, opened);
                    if (arModel is not null)
                    {
                        loaded.Add(arModel);
                        progress(new EvaluationProgress(LoadingStage, loading, null, ++done, files));
                    }
                    Gpt? judgeModel = judgeSource is null ? null
                        : judgePath == arPath ? arModel : ModelLoading.LoadGpt(judgeSource, opened);
                    if (judgeModel is not null && judgeModel != arModel)
                    {
                        loaded.Add(judgeModel);
                        progress(new EvaluationProgress(LoadingStage, loading, null, ++done, files));
                    }
                    Tokenizer tokenizer = Tokenizer.FromName(subjects[0].Model.Config.Tokenizer);
                    if (judgeModel is not null)
                    {
                        RequireJudgeTokenizer(judgePath!, judgeModel.Config, tokenizer);
                        options = options with { Retokenization = Retokenization.For(tokenizer, tokenizer) };
                    }
                    GptJudge? gptJudge = judgeModel is null ? null : new GptJudge(judgeModel, options.BatchSize);
                    if (gptJudge is not null) loaded.Add(gptJudge);
                    TokenShardSet? validation = parse.GetValue(data) is { } shards
                        ? PreparedCorpus.Open(shards, tokenizer).OpenValidation()
                        : null;
                    if (validation is not null) loaded.Add(validation);
                    string? lambadaPath = parse.GetValue(lambada);
                    var inputs = new EvaluationInputs
                    {
                        DiffusionModels = subjects,
                        ArModel = arModel is null ? null : new ArSubject(Label(arPath!), arModel),
                        Judge = gptJudge,
                        Features = gptJudge,
                        JudgeDescription = judgeModel is null ? "no judge" : JudgeDescription(judgeSource!, judgeModel.Config),
                        Validation = validation,
                        Lambada = lambadaPath is null ? null : LambadaReader.Read(lambadaPath),
                        LambadaSource = lambadaPath is null ? "" : Path.GetFileName(lambadaPath),
                    };
                    return new EvaluationSuite(options, progress).Run(inputs, "Evaluation");
                });
                var (json, markdown) = EvaluationSuite.Save(report, folder);
                console.Out.Write(MarkdownReportTable.Write(report));
                console.Error.WriteLine($"Wrote {json} and {markdown}");
                return CliApplication.Success;
            }
            finally
            {
                for (int i = loaded.Count - 1; i >= 0; i--) loaded[i].Dispose();
            }
        });
        return command;
    }

    /// <summary>Which inputs of the parts the command line gives.</summary>
    /// <param name="Judge">A judge (<c>--judge</c>, or <c>--ar</c> standing in for it).</param>
    /// <param name="Data">Validation shards (<c>--data</c>).</param>
    /// <param name="Lambada">A LAMBADA file (<c>--lambada</c>).</param>
    private sealed record GivenInputs(bool Judge, bool Data, bool Lambada)
    {
        /// <summary>The options <paramref name="part"/> needs that are not given, or null when it can run.</summary>
        public string? Missing(EvaluationParts part) => part switch
        {
            EvaluationParts.ValidationPerplexity or EvaluationParts.Cloze => Data ? null : "--data",
            EvaluationParts.GenerativePerplexity => Judge ? null : "--judge (or --ar)",
            EvaluationParts.PromptedGeneration => Judge && Data ? null : "--judge (or --ar) and --data",
            _ => Lambada ? null : "--lambada",
        };
    }

    /// <summary>The progress stage of reading the model files.</summary>
    private const string LoadingStage = "Loading";

    /// <summary>
    /// One line per finished evaluation stage on standard error (every example would flood a log; the loading of the models,
    /// which a terminal's bar shows, is no result of its own).
    /// </summary>
    private static void Report(CliConsole console, EvaluationProgress progress)
    {
        if (progress.Done != progress.Total || progress.Stage == LoadingStage) return;
        string steps = progress.Steps is { } s ? string.Create(CultureInfo.InvariantCulture, $" at {s} steps") : "";
        console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{progress.Stage}: {progress.Model}{steps} done ({progress.Total})"));
    }

    /// <summary>A row label: the checkpoint's file name without extension, or the folder's name.</summary>
    private static string Label(string path) => Directory.Exists(path)
        ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)))
        : Path.GetFileNameWithoutExtension(path);

    /// <summary>
    /// The judge scores the models' own ids in SDTT's convention, so it must read the same tokenizer (the suite checks that the
    /// models agree among themselves).
    /// </summary>
    /// <exception cref="ArgumentException">The judge was made for another tokenizer.</exception>
    private static void RequireJudgeTokenizer(string path, GptConfig judge, Tokenizer models)
    {
        if (judge.Tokenizer != models.Name)
            throw new ArgumentException($"The judge '{path}' reads {judge.Tokenizer} tokens, but the models {models.Name} tokens; " +
                $"generative perplexity scores the samples' ids as they are. Give a judge trained on {models.Name} data " +
                $"('{CliApplication.Name} train --model ar --tokenizer {models.Name}').");
    }

    private static string JudgeDescription(ModelSource judge, GptConfig config) => string.Create(CultureInfo.InvariantCulture,
        $"{(judge.Format == ModelFormat.HuggingFaceFolder ? "GPT-2 weights" : "own AR judge")} '{Label(judge.Given)}' " +
        $"({config.Layers} layers, {config.Hidden} wide)");
}
