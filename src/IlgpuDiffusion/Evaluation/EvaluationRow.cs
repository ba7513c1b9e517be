namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// One row of an evaluation report: a model (teacher, student round k, AR baseline, ...) at a number of sampling
/// steps, with its metrics in column order. Immutable: the <c>With</c> methods return a new row.
/// </summary>
/// <param name="Model">Model name, e.g. <c>"MDLM teacher"</c> or <c>"SDTT round 3"</c>.</param>
/// <param name="Steps">Sampling steps, or null where steps do not apply (validation perplexity, an AR model).</param>
/// <param name="Metrics">The metrics, each name at most once.</param>
public sealed record EvaluationRow(string Model, int? Steps, IReadOnlyList<EvaluationMetric> Metrics)
{
    /// <summary>A row without metrics yet.</summary>
    public static EvaluationRow For(string model, int? steps = null) => new(model, steps, []);

    /// <summary>Column name of the mean unigram entropy.</summary>
    public const string EntropyName = "Entropy";

    /// <summary>Column name of self-BLEU.</summary>
    public const string SelfBleuName = "Self-BLEU";

    /// <summary>Column name of MAUVE.</summary>
    public const string MauveName = "MAUVE";

    /// <summary>This row plus one metric.</summary>
    /// <exception cref="ArgumentException">The row already has a metric of that name.</exception>
    public EvaluationRow With(EvaluationMetric metric)
    {
        ArgumentNullException.ThrowIfNull(metric);
        if (Metrics.Any(existing => existing.Name == metric.Name))
            throw new ArgumentException($"Row \"{Model}\" ({Steps?.ToString() ?? "no steps"}) already has metric \"{metric.Name}\".",
                nameof(metric));
        return this with { Metrics = [.. Metrics, metric] };
    }

    /// <summary>This row plus a single-valued metric.</summary>
    public EvaluationRow With(string name, double value) => With(new EvaluationMetric(name, value));

    /// <summary>
    /// This row plus generative perplexity (named after its convention, with its 95% confidence interval when there are
    /// two samples or more) and the mean unigram entropy, unless the row has the entropy already (both conventions of one
    /// sample set carry the same entropy).
    /// </summary>
    public EvaluationRow With(GenerativePerplexityResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        string name = result.Convention == GenerativePerplexityConvention.SdttPerSampleMean ? "Gen PPL (SDTT)" : "Gen PPL (MDLM)";
        var (low, high) = result.ConfidenceInterval;
        var metric = double.IsFinite(low) && double.IsFinite(high)
            ? new EvaluationMetric(name, result.Perplexity) { Low = low, High = high }
            : new EvaluationMetric(name, result.Perplexity);
        EvaluationRow row = With(metric);
        return Metrics.Any(m => m.Name == EntropyName) ? row : row.With(EntropyName, result.MeanUnigramEntropy);
    }

    /// <summary>This row plus MAUVE as mean ± standard deviation over seeds.</summary>
    public EvaluationRow With(MauveResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return With(new EvaluationMetric(MauveName, result.Mean, result.StandardDeviation));
    }

    /// <summary>
    /// This row plus accuracy, per-word and per-token perplexity of a LAMBADA run; <paramref name="label"/> names the
    /// data, e.g. "LAMBADA" or "Cloze" for the LAMBADA-style set built from held-out documents.
    /// </summary>
    public EvaluationRow With(LambadaResult result, string label = "LAMBADA")
    {
        ArgumentNullException.ThrowIfNull(result);
        return With($"{label} acc", result.Accuracy)
            .With($"{label} PPL/word", result.WordPerplexity)
            .With($"{label} PPL/token", result.TokenPerplexity);
    }
}
