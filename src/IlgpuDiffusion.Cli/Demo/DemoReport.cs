using System.Globalization;
using System.Text;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Files;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>What the report is written from: the run's settings, the stages' markers and the measurements.</summary>
/// <param name="Preset">The preset the demo ran.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="Layout">Where the outputs are.</param>
/// <param name="Corpus">The prepared shards.</param>
/// <param name="Stages">The markers of the finished stages (data to evaluate).</param>
/// <param name="Results">The evaluation and latency results.</param>
internal sealed record DemoReportInputs(DemoPreset Preset, ulong Seed, DemoLayout Layout, PreparedCorpus Corpus,
    IReadOnlyDictionary<DemoStage, StageMarker> Stages, DemoResults Results);

/// <summary>
/// Stage <see cref="DemoStage.Report"/>: <c>report.md</c>, what was measured (sizes, steps, times), the plots, the tables
/// and the comparison with the paper's claims; written through a temporary file after the figures.
/// </summary>
internal static class DemoReport
{
    /// <summary>Headings of the report's sections, in order (the tests check each is there).</summary>
    public static IReadOnlyList<string> Sections { get; } =
    [
        "## What was run", StepGapSection.Heading, "## Training curves", "## Generative perplexity against sampling steps",
        "## Entropy against sampling steps",
        "## LAMBADA-style cloze", "## Validation perplexity", "## Latency against the AR model", "## Against the paper's claims",
        "## Samples", "## All measurements", "## Not measured",
    ];

    /// <summary>Draws the figures and writes the report; returns its path. Warnings go to <paramref name="log"/>.</summary>
    public static string Write(DemoReportInputs inputs, TextWriter log)
    {
        string? figureProblem = DrawFigures(inputs, log);
        string path = inputs.Layout.Report;
        AtomicFile.WriteAllText(path, Markdown(inputs, figureProblem));
        return path;
    }

    /// <summary>
    /// Draws the figures, or returns why not: a figure that cannot be drawn (a full disk, a folder that cannot be written)
    /// loses the figures, never the report of a run that took hours.
    /// </summary>
    private static string? DrawFigures(DemoReportInputs inputs, TextWriter log)
    {
        try
        {
            DemoPlots.Write(inputs.Layout, inputs.Results);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            string reason = e.InnerException is { } inner ? $"{e.Message} {inner.GetType().Name}: {inner.Message}" : e.Message;
            log.WriteLine($"warning: the figures were not drawn ({reason}); the report is written without them.");
            return reason;
        }
    }

    /// <summary>The report's text; <paramref name="figureProblem"/> (why the figures are missing) replaces the figures.</summary>
    public static string Markdown(DemoReportInputs inputs, string? figureProblem = null)
    {
        var culture = CultureInfo.InvariantCulture;
        DemoPreset preset = inputs.Preset;
        DemoResults results = inputs.Results;
        var text = new StringBuilder();
        text.Append("# IlgpuDiffusion demo report\n\n");
        text.Append(culture,
            $"Preset `{preset.Name}`: {preset.Purpose}. Seed {inputs.Seed}. Written {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by " +
            $"`{CliApplication.Name} demo --preset {preset.Name}{preset.Overrides}`. Everything below was measured in this run; " +
            $"nothing is copied from the paper except the claims it is compared with.\n\n");

        text.Append("## What was run\n\n");
        text.Append("| Stage | What | Device | Wall time |\n|---|---|---|---:|\n");
        ShardMetadata data = inputs.Corpus.Metadata;
        Stage(text, inputs, DemoStage.Data, string.Create(culture,
            $"{data.Train.Sequences:N0} training and {data.Validation.Sequences:N0} validation sequences of " +
            $"{inputs.Corpus.SequenceLength} tokens ({data.Tokenizer} tokenizer, held-out whole documents) in " +
            $"`{inputs.Corpus.Directory}`"));
        var model = preset.Teacher;
        Stage(text, inputs, DemoStage.Teacher, string.Create(culture,
            $"MDLM DiT, {model.Layers} layers, {model.Hidden} wide, {model.Heads} heads, {model.ParameterCount() / 1e6:F1}M parameters; " +
            $"{preset.TeacherSteps} steps of {preset.BatchSize} × {model.Length} tokens, lr {preset.LearningRate:0.##e+00}, " +
            $"{preset.WarmupSteps} warm-up steps, {preset.Decay.ToString().ToLowerInvariant()} after; EMA weights evaluated"));
        var judge = preset.Judge;
        Stage(text, inputs, DemoStage.Judge, string.Create(culture,
            $"GPT (AR judge and latency baseline), {judge.Layers} layers, {judge.Hidden} wide, untied head, " +
            $"{judge.ParameterCount() / 1e6:F1}M parameters; {preset.JudgeSteps} steps on the same shards, same recipe"));
        var rounds = preset.Distillation(inputs.Seed).Rounds;
        Stage(text, inputs, DemoStage.Distill, string.Create(culture,
            $"SDTT, reverse KL, 2 teacher steps per target: {rounds.Count} rounds of {rounds.StepsPerRound} steps, " +
            $"{rounds.InitialSamplingSteps} → {string.Join(", ", Enumerable.Range(0, rounds.Count).Select(rounds.StudentSamplingSteps))} " +
            $"sampling steps, lr {preset.DistillationLearningRate:0.##e+00}"));
        Stage(text, inputs, DemoStage.Evaluate, string.Create(culture,
            $"{preset.Samples} samples per model and step count at {string.Join(", ", results.Steps)} steps; " +
            $"{preset.ClozePassages} cloze passages at most; {preset.ValidationBatches} validation batches; " +
            $"latency at B {results.Latency.BatchSize}"));
        double total = inputs.Stages.Values.Sum(m => m.Seconds);
        text.Append(culture, $"\nTotal wall time of these stages: {total / 60:F1} min " +
            $"(a stage reused from an earlier run shows the time it took then).\n\n");

        text.Append(StepGapSection.Write(results));

        text.Append("## Training curves\n\n");
        Figure(text, figureProblem, DemoPlots.Training, "Training curves of the teacher and the judge");
        Figure(text, figureProblem, DemoPlots.Distillation, "Distillation loss over the rounds");

        text.Append("## Generative perplexity against sampling steps\n\n");
        text.Append("The analogue of the paper's Figure 1: unconditional samples of every model at every step count, " +
            "judged by the own AR judge (not GPT-2 large). Lower is better.\n\n");
        Figure(text, figureProblem, DemoPlots.GenerativePerplexity, "Generative perplexity against sampling steps");
        StepsTable(text, results, DemoResults.GenPplSdtt);
        StepsTable(text, results, DemoResults.GenPplMdlm);
        if (results.Value(EvaluationStage.JudgeName, null, DemoResults.GenPplSdtt) is double own)
            text.Append(CultureInfo.InvariantCulture,
                $"The AR judge's own samples (from BOS, KV cache) score {Cell(own)} (SDTT convention) with entropy " +
                $"{Cell(results.Value(EvaluationStage.JudgeName, null, EvaluationRow.EntropyName))}: judged by itself, " +
                $"a self-consistency floor rather than a quality score.\n\n");

        text.Append("## Entropy against sampling steps\n\n");
        Figure(text, figureProblem, DemoPlots.Entropy, "Unigram entropy against sampling steps");
        StepsTable(text, results, EvaluationRow.EntropyName);

        text.Append("## LAMBADA-style cloze\n\n");
        text.Append("A last-word cloze built from held-out documents of the corpus (not LAMBADA itself; " +
            "no LAMBADA file is reachable offline).\n\n");
        Figure(text, figureProblem, DemoPlots.Cloze, "Cloze accuracy per model");
        ModelTable(text, results, [DemoResults.ClozeAccuracy, DemoResults.ClozeWordPerplexity]);

        text.Append("## Validation perplexity\n\n");
        text.Append("On the same validation sequences: diffusion rows are the NELBO upper bound, the AR row the exact perplexity.\n\n");
        text.Append("The CE columns check that a model reads its context: nats per masked token when every token is masked " +
            "with probability t (no 1/t weight), lower at t = 0.1 than at t = 0.9 when the visible context helps.\n\n");
        ModelTable(text, results, [EvaluationSuite.ValidationName,
            .. EvaluationSuite.ContextTimes.Select(EvaluationSuite.MaskedCrossEntropyName)]);

        text.Append("## Latency against the AR model\n\n");
        Figure(text, figureProblem, DemoPlots.Latency, "Latency against the AR model");
        text.Append(results.Latency.ToMarkdown()).Append('\n');
        text.Append("The students have the teacher's architecture, so their sampling costs the same at the same step count.\n\n");

        text.Append(PaperClaims.Write(results));

        Samples(text, results.Samples);

        text.Append("## All measurements\n\n");
        text.Append(MarkdownReportTable.Write(results.Evaluation).Replace("## ", "### ", StringComparison.Ordinal)).Append('\n');

        text.Append("## Not measured\n\n");
        text.Append("- MAUVE and self-BLEU of prompted continuations: the library computes them (`EvaluationSuite`, `eval`), " +
            "the demo leaves them out to stay within its time.\n");
        text.Append("- LAMBADA itself and GPT-2 large as the judge: neither is available offline; " +
            "the cloze and the own AR judge stand in for them.\n");
        text.Append(culture,
            $"- The paper's scale: its teacher is a 169M model trained for 1M steps on OpenWebText at L 1024 and distilled for 7 rounds " +
            $"of 10k steps; this run is preset `{preset.Name}`.\n");
        return text.ToString();
    }

    /// <summary>The drawn samples, grouped by model and step count, each as a quoted block.</summary>
    private static void Samples(StringBuilder text, IReadOnlyList<DemoSample> samples)
    {
        text.Append("## Samples\n\n");
        if (samples.Count == 0)
        {
            text.Append("No samples were saved in this run's evaluation (rerun with `--from evaluate`).\n\n");
            return;
        }
        text.Append(CultureInfo.InvariantCulture,
            $"Unconditional samples, {DemoSamples.PerModel} per model and step count, seed {DemoSamples.Seed} for each ")
            .Append("(`<|endoftext|>` marks a document boundary).\n\n");
        foreach (var group in samples.GroupBy(s => (s.Model, s.Steps)))
        {
            text.Append(CultureInfo.InvariantCulture, $"**{group.Key.Model} at {group.Key.Steps} steps**\n\n");
            foreach (DemoSample sample in group)
                text.Append("> ").Append(sample.Text.ReplaceLineEndings(" ").Trim()).Append("\n\n");
        }
    }

    private static void Stage(StringBuilder text, DemoReportInputs inputs, DemoStage stage, string what)
    {
        StageMarker? marker = inputs.Stages.GetValueOrDefault(stage);
        string device = stage == DemoStage.Data ? "" : marker?.Detail ?? "";
        string time = marker is null ? "—" : string.Create(CultureInfo.InvariantCulture, $"{marker.Seconds:F1} s");
        text.Append($"| {stage.Title()} | {what} | {device} | {time} |\n");
    }

    private static void Figure(StringBuilder text, string? figureProblem, string file, string caption) => text.Append(figureProblem is null
        ? $"![{caption}](figures/{file})\n\n"
        : $"*{caption}: not drawn ({figureProblem}).*\n\n");

    /// <summary>Rows = step counts, columns = diffusion models, cells = <paramref name="metric"/>.</summary>
    private static void StepsTable(StringBuilder text, DemoResults results, string metric)
    {
        text.Append($"| {metric} \\ steps |");
        foreach (int steps in results.Steps) text.Append(CultureInfo.InvariantCulture, $" {steps} |");
        text.Append("\n|---|").Append(string.Concat(results.Steps.Select(_ => "---:|"))).Append('\n');
        foreach (string model in results.DiffusionModels)
        {
            text.Append($"| {model} |");
            foreach (int steps in results.Steps) text.Append($" {Cell(results.Value(model, steps, metric))} |");
            text.Append('\n');
        }
        text.Append('\n');
    }

    /// <summary>Rows = every model (the judge last), columns = <paramref name="metrics"/> of the rows without steps.</summary>
    private static void ModelTable(StringBuilder text, DemoResults results, IReadOnlyList<string> metrics)
    {
        text.Append("| Model |").Append(string.Concat(metrics.Select(m => $" {m} |")))
            .Append("\n|---|").Append(string.Concat(metrics.Select(_ => "---:|"))).Append('\n');
        foreach (string model in results.DiffusionModels.Append(EvaluationStage.JudgeName))
        {
            text.Append($"| {model} |")
                .Append(string.Concat(metrics.Select(m => $" {Cell(results.Value(model, null, m))} |"))).Append('\n');
        }
        text.Append('\n');
    }

    private static string Cell(double? value) => value is double v ? new EvaluationMetric("", v).Format() : "—";
}
