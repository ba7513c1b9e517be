using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Unconditional generative perplexity of a diffusion model (docs/algorithms.md §5.1): at each step count of
/// <see cref="EvaluationOptions.Steps"/>, <see cref="EvaluationOptions.Samples"/> samples of
/// <see cref="EvaluationOptions.SampleLength"/> tokens (<see cref="DiffusionGeneration.Unconditional"/>) scored by the
/// judge in SDTT's convention and, when <see cref="EvaluationOptions.Retokenization"/> is set, MDLM's, with the mean
/// unigram entropy of the samples. Evaluate the EMA weights (what <see cref="Diffusion.MdlmCheckpoint.LoadModel"/> loads).
/// The AR baseline's samples (<see cref="ArGeneration"/>) are judged the same way.
/// </summary>
internal static class GenerativePerplexityRunner
{
    /// <summary>Progress stage name.</summary>
    public const string Stage = "Generative perplexity";

    /// <summary>Progress stage name of the judge scoring the samples (one unit per scoring pass).</summary>
    internal const string ScoringStage = "Judge scoring samples";

    /// <summary>One row per step count, named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The sample length exceeds the model's or the judge's context.</exception>
    public static IReadOnlyList<EvaluationRow> Run(Dit model, string name, ITokenScorer judge, EvaluationOptions options,
        Action<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int length = CheckLength(model, judge, options);
        var rows = new List<EvaluationRow>(options.Steps.Count);
        foreach (int steps in options.Steps)
        {
            int[][] samples = DiffusionGeneration.Unconditional(model, steps, options.Samples, length, options.BatchSize, options.Seed,
                (done, total) => progress?.Invoke(new EvaluationProgress(Stage, name, steps, done, total)));
            rows.Add(Judged(EvaluationRow.For(name, steps), samples, judge, options,
                (done, total) => progress?.Invoke(new EvaluationProgress(ScoringStage, name, steps, done, total))));
        }
        return rows;
    }

    /// <summary>
    /// The row (without steps) of the AR baseline's <see cref="EvaluationOptions.Samples"/> samples, drawn with
    /// <see cref="EvaluationOptions.ArTopP"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The sample length exceeds the AR model's or the judge's context.</exception>
    public static EvaluationRow RunAutoregressive(Gpt model, string name, ITokenScorer judge, int length, EvaluationOptions options,
        Action<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckLength(length, judge);
        int[][] samples = ArGeneration.Unconditional(model, options.Samples, length, options.BatchSize, options.Seed, options.ArTopP,
            (done, total) => progress?.Invoke(new EvaluationProgress(Stage, name, null, done, total)));
        return Judged(EvaluationRow.For(name), samples, judge, options,
            (done, total) => progress?.Invoke(new EvaluationProgress(ScoringStage, name, null, done, total)));
    }

    /// <summary>The length of <paramref name="model"/>'s samples, checked against the model's and the judge's context.</summary>
    /// <exception cref="ArgumentException">The sample length exceeds the model's or the judge's context.</exception>
    public static int CheckLength(Dit model, ITokenScorer judge, EvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(options);
        int length = options.SampleLength ?? model.Config.Length;
        if (length > model.Config.Length)
            throw new ArgumentException($"Samples of {length} tokens exceed the diffusion model's length {model.Config.Length}.",
                nameof(options));
        if (length > judge.MaxLength)
            throw new ArgumentException($"Samples of {length} tokens exceed the judge's context of {judge.MaxLength}; " +
                "SDTT's convention scores samples whole. Sample shorter sequences.", nameof(options));
        return length;
    }

    /// <summary>Checks that AR samples of <paramref name="length"/> tokens fit the judge's context.</summary>
    /// <exception cref="ArgumentException">They do not.</exception>
    public static void CheckLength(int length, ITokenScorer judge)
    {
        ArgumentNullException.ThrowIfNull(judge);
        if (length > judge.MaxLength)
            throw new ArgumentException($"Samples of {length} tokens exceed the judge's context of {judge.MaxLength}.", nameof(length));
    }

    private static EvaluationRow Judged(EvaluationRow row, int[][] samples, ITokenScorer judge, EvaluationOptions options,
        Action<int, int> progress)
    {
        int passes = options.Retokenization is null ? 1 : 2;
        progress(0, passes);
        row = row.With(GenerativePerplexity.PerSampleMean(samples, judge, options.BatchSize));
        progress(1, passes);
        if (options.Retokenization is not { } retokenization) return row;
        row = row.With(GenerativePerplexity.TokenWeighted(samples, judge, retokenization, options.BatchSize));
        progress(2, passes);
        return row;
    }
}
