using System.Globalization;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Files;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Runs the evaluation of docs/algorithms.md §5 on diffusion models and an AR baseline and collects one <see cref="EvaluationReport"/>:
/// validation perplexity side by side (diffusion NELBO bound, AR exact), LAMBADA and the LAMBADA-style cloze (diffusion:
/// masked word, one pass, ELBO per word; AR: teacher forcing), unconditional generative perplexity with entropy at each
/// step count, and MAUVE with self-BLEU of prompted continuations. A model gets one row without steps (likelihood
/// metrics) and one row per step count (sample metrics). Each part runs when <see cref="EvaluationOptions.Parts"/> asks
/// for it and its inputs are there; otherwise the report's notes say why it is missing.
/// </summary>
public sealed class EvaluationSuite
{
    /// <summary>File name of the JSON report written by <see cref="Save"/>.</summary>
    public const string JsonFileName = "evaluation.json";

    /// <summary>File name of the Markdown report written by <see cref="Save"/>.</summary>
    public const string MarkdownFileName = "evaluation.md";

    /// <summary>Column of validation perplexity.</summary>
    public const string ValidationName = "Val PPL";

    /// <summary>The mask times of the context check (<see cref="MaskedCrossEntropy"/>): mostly visible, mostly masked.</summary>
    public static IReadOnlyList<double> ContextTimes { get; } = [0.1, 0.9];

    /// <summary>Metric name of the masked cross-entropy at mask time <paramref name="time"/>.</summary>
    public static string MaskedCrossEntropyName(double time) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"CE t={time}");

    private readonly EvaluationOptions _options;
    private readonly Action<EvaluationProgress>? _progress;

    /// <summary>Prepares a suite with <paramref name="options"/>, reporting progress to <paramref name="progress"/>.</summary>
    public EvaluationSuite(EvaluationOptions? options = null, Action<EvaluationProgress>? progress = null)
    {
        _options = (options ?? new EvaluationOptions()).Validate();
        _progress = progress;
    }

    /// <summary>Evaluates <paramref name="inputs"/> and returns the report titled <paramref name="title"/>.</summary>
    /// <param name="cancellationToken">Stops the evaluation at its next progress report.</param>
    /// <exception cref="ArgumentException">
    /// There is no model, two models share a name, the models use different tokenizers, or generative perplexity would
    /// retokenize with the options' retokenization of another tokenizer's samples.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public EvaluationReport Run(EvaluationInputs inputs, string title = "Evaluation", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(title);
        var names = inputs.DiffusionModels.Select(m => m.Name).Concat(inputs.ArModel is { } ar ? [ar.Name] : []).ToList();
        if (names.Count == 0) throw new ArgumentException("Give at least one diffusion model or an AR model to evaluate.", nameof(inputs));
        if (names.Distinct().Count() != names.Count)
            throw new ArgumentException("Every model needs its own name (row label).", nameof(inputs));
        Tokenizer tokenizer = SharedTokenizer(inputs);
        if (Wants(EvaluationParts.GenerativePerplexity) && inputs.Judge is not null
            && _options.Retokenization?.SampleTokenizer is string decodes && decodes != tokenizer.Name)
            throw new ArgumentException($"The retokenization of generative perplexity decodes {decodes} samples, but the models use " +
                $"the {tokenizer.Name} tokenizer. Set {nameof(EvaluationOptions)}.{nameof(EvaluationOptions.Retokenization)} = " +
                $"{nameof(Evaluation.Retokenization)}.{nameof(Evaluation.Retokenization.For)}(the models' tokenizer, the judge's).",
                nameof(inputs));
        var rows = new ReportRows(names);
        var notes = new List<string>();
        // Every progress report is also where a cancellation takes effect.
        Action<EvaluationProgress> progress = report =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            _progress?.Invoke(report);
        };
        cancellationToken.ThrowIfCancellationRequested();
        CheckSizes(inputs);
        if (Wants(EvaluationParts.ValidationPerplexity)) ValidationPerplexities(inputs, rows, notes, progress);
        if (Wants(EvaluationParts.Lambada)) Lambada(inputs, tokenizer, rows, notes, progress);
        if (Wants(EvaluationParts.Cloze)) Cloze(inputs, tokenizer, rows, notes, progress);
        if (Wants(EvaluationParts.GenerativePerplexity)) GenerativePerplexities(inputs, rows, notes, progress);
        if (Wants(EvaluationParts.PromptedGeneration)) Prompted(inputs, rows, notes, progress);
        return new EvaluationReport(title, rows.InOrder(), notes);
    }

    /// <summary>
    /// Writes <see cref="JsonFileName"/> and <see cref="MarkdownFileName"/> into <paramref name="directory"/> (each
    /// through a temporary file).
    /// </summary>
    /// <returns>The paths of the JSON and the Markdown file.</returns>
    public static (string Json, string Markdown) Save(EvaluationReport report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(directory);
        string json = Path.Combine(Path.GetFullPath(directory), JsonFileName),
            markdown = Path.Combine(Path.GetFullPath(directory), MarkdownFileName);
        report.Save(json);
        AtomicFile.WriteAllText(markdown, MarkdownReportTable.Write(report));
        return (json, markdown);
    }

    private bool Wants(EvaluationParts part) => (_options.Parts & part) != 0;

    /// <summary>
    /// The tokenizer every model of <paramref name="inputs"/> reads and writes: LAMBADA and the cloze are tokenized with it.
    /// </summary>
    private static Tokenizer SharedTokenizer(EvaluationInputs inputs)
    {
        var models = inputs.DiffusionModels.Select(m => (m.Name, m.Model.Config.Tokenizer))
            .Concat(inputs.ArModel is { } ar ? [(ar.Name, ar.Model.Config.Tokenizer)] : [])
            .ToArray();
        if (models.Select(m => m.Tokenizer).Distinct().Count() > 1)
            throw new ArgumentException("The models use different tokenizers (" +
                string.Join(", ", models.Select(m => $"{m.Name}: {m.Tokenizer}")) + "); evaluate models of one tokenizer together.",
                nameof(inputs));
        return Tokenizer.FromName(models[0].Tokenizer);
    }

    private void ValidationPerplexities(EvaluationInputs inputs, ReportRows rows, List<string> notes, Action<EvaluationProgress> progress)
    {
        if (inputs.Validation is not { } data)
        {
            notes.Add("Validation perplexity skipped: no validation shards.");
            return;
        }
        long sequences = 0;
        foreach (DiffusionSubject subject in inputs.DiffusionModels)
        {
            Report(progress, "Validation perplexity", subject.Name, 0, 1);
            using var validation = new ValidationPerplexity(subject.Model.Config, subject.Model.Device, data, _options.ValidationBatchSize,
                _options.Seed, _options.ValidationBatches);
            ValidationMetrics metrics = validation.Evaluate(subject.Model.Parameters.All, step: 0);
            EvaluationRow row = EvaluationRow.For(subject.Name).With(ValidationName, metrics.Perplexity);
            // A split smaller than a batch is one batch, as in the validation perplexity above.
            int batch = (int)Math.Min(_options.ValidationBatchSize, data.SequenceCount);
            foreach (double time in ContextTimes)
                row = row.With(MaskedCrossEntropyName(time), MaskedCrossEntropy.AtTime(subject.Model, data, time, batch,
                    _options.Seed, _options.ValidationBatches).CrossEntropy);
            rows.Add(row);
            sequences = validation.Sequences;
        }
        if (inputs.ArModel is { } ar)
        {
            Report(progress, "Validation perplexity", ar.Name, 0, 1);
            using var validation = new ArValidation(ar.Model.Config, ar.Model.Device, data, _options.ValidationBatchSize,
                _options.ValidationBatches);
            ValidationMetrics metrics = validation.Evaluate(ar.Model.Parameters.All, step: 0);
            rows.Add(EvaluationRow.For(ar.Name).With(ValidationName, metrics.Perplexity));
            sequences = validation.Sequences;
        }
        notes.Add($"{ValidationName}: on the same {sequences} validation sequences of {data.SequenceLength} tokens; " +
            "diffusion rows are the NELBO upper bound " +
            $"(one time and one mask per sequence, seed {_options.Seed}), AR rows the exact next-token perplexity. " +
            $"{string.Join(" and ", ContextTimes.Select(MaskedCrossEntropyName))}: nats per masked token " +
            "when every token is masked with that probability (no 1/t weight); " +
            "a model that reads its context scores lower at the smaller t, one that ignores it scores its unigram entropy at both.");
    }

    private void Lambada(EvaluationInputs inputs, Tokenizer tokenizer, ReportRows rows, List<string> notes,
        Action<EvaluationProgress> progress)
    {
        if (inputs.Lambada is not { Count: > 0 } passages)
        {
            notes.Add("LAMBADA skipped: no LAMBADA file given.");
            return;
        }
        IReadOnlyList<LambadaExample> examples = passages.Take(_options.MaxLambadaExamples ?? int.MaxValue)
            .Select(p => LambadaExample.Tokenize(p, tokenizer)).ToArray();
        ScoreLambada(inputs, examples, "LAMBADA", rows, progress);
        notes.Add($"LAMBADA: the first {examples.Count} passages of {inputs.LambadaSource}. {LambadaProtocol()}");
    }

    private void Cloze(EvaluationInputs inputs, Tokenizer tokenizer, ReportRows rows, List<string> notes,
        Action<EvaluationProgress> progress)
    {
        if (inputs.Validation is not { } data)
        {
            notes.Add("Cloze skipped: no validation shards to build it from.");
            return;
        }
        IReadOnlyList<string> documents = HeldOutText.Documents(data, tokenizer);
        IReadOnlyList<LambadaPassage> passages = LambadaClozeBuilder.Build(documents, _options.Cloze);
        if (passages.Count == 0)
        {
            notes.Add($"Cloze skipped: the {documents.Count} held-out documents yield no passage under the cloze rules.");
            return;
        }
        ScoreLambada(inputs, passages.Select(p => LambadaExample.Tokenize(p, tokenizer)).ToArray(), "Cloze", rows, progress);
        notes.Add($"Cloze: a LAMBADA-style last-word cloze built from {documents.Count} held-out documents ({passages.Count} passages; " +
            $"not LAMBADA, no human filtering). {LambadaProtocol()}");
    }

    private void ScoreLambada(EvaluationInputs inputs, IReadOnlyList<LambadaExample> examples, string label, ReportRows rows,
        Action<EvaluationProgress> progress)
    {
        foreach (DiffusionSubject subject in inputs.DiffusionModels)
        {
            IReadOnlyList<LambadaOutcome> outcomes = DiffusionLambada.Score(subject.Model, examples, _options.LambadaTimeDraws,
                _options.Seed, (done, total) => Report(progress, label, subject.Name, done, total));
            rows.Add(EvaluationRow.For(subject.Name).With(LambadaScoring.Summarize(outcomes), label));
        }
        if (inputs.ArModel is { } ar)
        {
            IReadOnlyList<LambadaOutcome> outcomes = ArLambada.Score(ar.Model, examples,
                (done, total) => Report(progress, label, ar.Name, done, total));
            rows.Add(EvaluationRow.For(ar.Name).With(LambadaScoring.Summarize(outcomes), label));
        }
    }

    private string LambadaProtocol() =>
        "Diffusion: every word token masked, EOS visible, one forward pass, exact match of the argmax over the text ids; PPL/word is the " +
        $"ELBO bound with {_options.LambadaTimeDraws} antithetic time draws (1/t weights, context and EOS clean). AR: teacher forcing, " +
        "exact match of the argmax at every word position. PPL/token divides the same NLL by the word tokens.";

    private void GenerativePerplexities(EvaluationInputs inputs, ReportRows rows, List<string> notes, Action<EvaluationProgress> progress)
    {
        if (inputs.Judge is not { } judge)
        {
            notes.Add("Generative perplexity skipped: no judge.");
            return;
        }
        foreach (DiffusionSubject subject in inputs.DiffusionModels)
            foreach (EvaluationRow row in GenerativePerplexityRunner.Run(subject.Model, subject.Name, judge, _options, progress))
                rows.Add(row);
        if (inputs.ArModel is { } ar)
        {
            rows.Add(GenerativePerplexityRunner.RunAutoregressive(ar.Model, ar.Name, judge, ArSampleLength(inputs, ar), _options,
                progress));
        }
        string length = _options.SampleLength is int tokens
            ? $"{tokens.ToString(CultureInfo.InvariantCulture)} tokens"
            : "the diffusion model's length";
        notes.Add($"Gen PPL: {_options.Samples} unconditional samples of {length} per row " +
            $"(diffusion: ancestral sampler, cached; AR: from BOS with top-p {_options.ArTopP}, KV cache; seed {_options.Seed} + batch), " +
            $"judged by {inputs.JudgeDescription}. " +
            "(SDTT): raw ids, exp of the mean over samples of each sample's mean NLL. " +
            (_options.Retokenization is null ? "" : "(MDLM): decoded, retokenized, token-weighted with the first EOS scored. ") +
            "Entropy: mean unigram entropy of the samples in nats. " +
            "An AR row judged by its own model measures self-consistency, not quality.");
    }

    /// <summary>
    /// The AR baseline's sample length: the diffusion samples' where its context allows, so the rows compare like with like.
    /// </summary>
    private int ArSampleLength(EvaluationInputs inputs, ArSubject ar) => _options.SampleLength ?? Math.Min(ar.Model.Config.Length,
        inputs.DiffusionModels.Select(m => m.Model.Config.Length).DefaultIfEmpty(ar.Model.Config.Length).Max());

    /// <summary>
    /// Checks, before the first stage, the lengths and counts that the parts which will run need of the models and data, so
    /// that a run does not fail after its earlier stages.
    /// </summary>
    /// <exception cref="ArgumentException">A sample, prompt or continuation does not fit a model, the judge or the data.</exception>
    private void CheckSizes(EvaluationInputs inputs)
    {
        if (Wants(EvaluationParts.GenerativePerplexity) && inputs.Judge is { } judge)
        {
            foreach (DiffusionSubject subject in inputs.DiffusionModels)
                GenerativePerplexityRunner.CheckLength(subject.Model, judge, _options);
            if (inputs.ArModel is { } ar) GenerativePerplexityRunner.CheckLength(ArSampleLength(inputs, ar), judge);
        }
        if (Wants(EvaluationParts.PromptedGeneration) && inputs.Features is not null && inputs.Validation is { } data
            && inputs.DiffusionModels.Count > 0)
        {
            HeldOutText.CheckPrompts(data, _options.Prompts, _options.PromptLength, _options.ContinuationLength);
            foreach (DiffusionSubject subject in inputs.DiffusionModels)
                PromptedGeneration.CheckLength(_options.PromptLength + _options.ContinuationLength, subject.Model);
        }
    }

    private void Prompted(EvaluationInputs inputs, ReportRows rows, List<string> notes, Action<EvaluationProgress> progress)
    {
        if (inputs.Features is not { } features || inputs.Validation is not { } data)
        {
            notes.Add("MAUVE and self-BLEU skipped: they need a feature model (judge) and validation shards for the prompts.");
            return;
        }
        if (inputs.DiffusionModels.Count == 0) return;
        var prompted = new PromptedGeneration(features,
            HeldOutText.Prompts(data, _options.Prompts, _options.PromptLength, _options.ContinuationLength), _options);
        foreach (DiffusionSubject subject in inputs.DiffusionModels)
            foreach (int steps in _options.Steps)
                rows.Add(prompted.Row(subject.Model, subject.Name, steps, progress));
        string seeds = string.Join(", ", _options.Mauve.Seeds);
        notes.Add($"MAUVE: {_options.Prompts} held-out prompts of {_options.PromptLength} tokens, " +
            $"{_options.ContinuationsPerPrompt} continuations of {_options.ContinuationLength} tokens each " +
            $"against the true continuations; features: {inputs.JudgeDescription}'s final hidden state at the last token; " +
            $"PCA {_options.Mauve.ExplainedVariance}, k-means, scaling factor {_options.Mauve.ScalingFactor}, " +
            $"mean ± std over seeds {seeds}. " +
            "Self-BLEU: BLEU-4 (NLTK method-1 smoothing) of each continuation against the other continuations of its prompt, averaged." +
            (_options.Prompts < 100
                ? $" With {_options.Prompts} prompts MAUVE quantizes into very few buckets and discriminates little (SDTT: 1024 prompts)."
                : ""));
    }

    private static void Report(Action<EvaluationProgress> progress, string stage, string model, int done, int total) =>
        progress(new EvaluationProgress(stage, model, null, done, total));

    /// <summary>Rows keyed by (model, steps), merged as parts add metrics; ordered by model, then steps (none first).</summary>
    private sealed class ReportRows(IReadOnlyList<string> models)
    {
        private readonly Dictionary<(string Model, int? Steps), EvaluationRow> _rows = [];

        public void Add(EvaluationRow row)
        {
            var key = (row.Model, row.Steps);
            if (!_rows.TryGetValue(key, out EvaluationRow? existing))
            {
                _rows[key] = row;
                return;
            }
            foreach (EvaluationMetric metric in row.Metrics) existing = existing.With(metric);
            _rows[key] = existing;
        }

        public IReadOnlyList<EvaluationRow> InOrder() =>
            _rows.Values.OrderBy(r => IndexOf(r.Model)).ThenBy(r => r.Steps ?? -1).ToArray();

        private int IndexOf(string model)
        {
            for (int i = 0; i < models.Count; i++)
                if (models[i] == model) return i;
            return models.Count;
        }
    }
}
