using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Evaluation;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>What the evaluation stage measured, read back for the report: the evaluation rows and the latency rows.</summary>
/// <param name="Evaluation">The evaluation report (<c>evaluation.json</c>).</param>
/// <param name="Latency">The latency comparison (<c>latency.json</c>).</param>
/// <param name="DiffusionModels">Row labels of the teacher, then the students in round order.</param>
/// <param name="Samples">The samples shown in the report (none for a run from before they were drawn).</param>
internal sealed record DemoResults(EvaluationReport Evaluation, LatencyReport Latency, IReadOnlyList<string> DiffusionModels,
    IReadOnlyList<DemoSample> Samples)
{
    /// <summary>Column of generative perplexity in SDTT's convention (raw ids, per-sample mean).</summary>
    public const string GenPplSdtt = "Gen PPL (SDTT)";

    /// <summary>Column of generative perplexity in MDLM's convention (retokenized, token-weighted).</summary>
    public const string GenPplMdlm = "Gen PPL (MDLM)";

    /// <summary>Column of the cloze accuracy.</summary>
    public const string ClozeAccuracy = "Cloze acc";

    /// <summary>Column of the cloze perplexity per word.</summary>
    public const string ClozeWordPerplexity = "Cloze PPL/word";

    /// <summary>Reads <c>evaluation.json</c> and <c>latency.json</c> from <paramref name="layout"/>.</summary>
    /// <exception cref="FileNotFoundException">The evaluation stage has not written its files.</exception>
    public static DemoResults Load(DemoLayout layout, IReadOnlyList<string> diffusionModels)
    {
        if (!File.Exists(layout.Latency))
            throw new FileNotFoundException($"{layout.Latency} is missing; rerun the demo with --from evaluate.", layout.Latency);
        return new DemoResults(EvaluationReport.Load(Path.Combine(layout.Root, EvaluationSuite.JsonFileName)),
            LatencyFile.Load(layout.Latency), diffusionModels, DemoSamples.Load(layout.Samples));
    }

    /// <summary>The step counts at which the diffusion models were sampled, ascending.</summary>
    public IReadOnlyList<int> Steps =>
        Evaluation.Rows.Where(r => r.Steps is not null).Select(r => r.Steps!.Value).Distinct().Order().ToArray();

    /// <summary>
    /// The metric <paramref name="metric"/> of <paramref name="model"/> at <paramref name="steps"/> (null: the row without steps); null
    /// when not measured.
    /// </summary>
    public double? Value(string model, int? steps, string metric) => Metric(model, steps, metric)?.Value;

    /// <summary>
    /// The metric <paramref name="metric"/> of <paramref name="model"/> at <paramref name="steps"/> with its confidence
    /// interval where it has one; null when not measured.
    /// </summary>
    public EvaluationMetric? Metric(string model, int? steps, string metric) =>
        Evaluation.Rows.FirstOrDefault(r => r.Model == model && r.Steps == steps)?.Metrics.FirstOrDefault(m => m.Name == metric);

    /// <summary>The metric of <paramref name="model"/> at each of <see cref="Steps"/> (NaN where not measured).</summary>
    public double[] OverSteps(string model, string metric) => Steps.Select(n => Value(model, n, metric) ?? double.NaN).ToArray();

    /// <summary>The diffusion sampler's mean seconds at <paramref name="steps"/> (cached), or null when not timed.</summary>
    public double? DiffusionSeconds(int steps) =>
        Latency.Measurements.FirstOrDefault(m => m.Steps == steps && m.Cached != false)?.Mean.TotalSeconds;
}
