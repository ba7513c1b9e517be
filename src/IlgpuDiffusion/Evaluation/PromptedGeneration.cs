using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Prompted generation quality (docs/algorithms.md §5.2–§5.3): every held-out prompt gets
/// <see cref="EvaluationOptions.ContinuationsPerPrompt"/> seeded continuations
/// (<see cref="DiffusionGeneration.Continuations"/>); MAUVE compares the model's prompt + continuation sequences with
/// the held-out prompt + true continuation sequences, both featurized by the judge (mean ± std over the MAUVE seeds);
/// self-BLEU is taken among the continuation tokens of each prompt (BLEU-4, NLTK method-1 smoothing). The references'
/// features are computed once and shared by every model and step count.
/// </summary>
internal sealed class PromptedGeneration
{
    /// <summary>Progress stage name.</summary>
    public const string Stage = "Prompted generation";

    private readonly IFeatureExtractor _features;
    private readonly IReadOnlyList<HeldOutPrompt> _prompts;
    private readonly EvaluationOptions _options;
    private float[][]? _referenceFeatures;

    /// <summary>Prepares the comparison against <paramref name="prompts"/>' true continuations.</summary>
    /// <exception cref="ArgumentException">No prompt, or prompts of different lengths.</exception>
    public PromptedGeneration(IFeatureExtractor features, IReadOnlyList<HeldOutPrompt> prompts, EvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        if (prompts.Count == 0) throw new ArgumentException("Prompted generation needs at least one prompt.", nameof(prompts));
        if (prompts.Any(p => p is null || p.Prompt.Length != prompts[0].Prompt.Length
            || p.Reference.Length != prompts[0].Reference.Length || p.Reference.Length == 0))
            throw new ArgumentException("Every prompt needs the same prompt length and the same non-empty reference length.",
                nameof(prompts));
        _features = features;
        _prompts = prompts;
        _options = options.Validate();
    }

    /// <summary>Checks that prompt + continuation (<paramref name="length"/> tokens) fit <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException">They exceed the model's length.</exception>
    public static void CheckLength(int length, Dit model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (length > model.Config.Length)
            throw new ArgumentException($"Prompt + continuation ({length} tokens) " +
                $"exceed the diffusion model's length {model.Config.Length}.", nameof(model));
    }

    /// <summary>The row of <paramref name="name"/> at <paramref name="steps"/> steps with MAUVE and self-BLEU.</summary>
    /// <exception cref="ArgumentException">Prompt + continuation exceed the model's length.</exception>
    public EvaluationRow Row(Dit model, string name, int steps, Action<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(name);
        int promptLength = _prompts[0].Prompt.Length, length = promptLength + _prompts[0].Reference.Length;
        CheckLength(length, model);
        _referenceFeatures ??= _features.Features(_prompts.Select(p => p.Sequence()).ToArray());
        int[][][] sequences = DiffusionGeneration.Continuations(model, steps, _prompts.Select(p => p.Prompt).ToArray(),
            _options.ContinuationsPerPrompt, length, _options.BatchSize, _options.Seed,
            (done, total) => progress?.Invoke(new EvaluationProgress(Stage, name, steps, done, total)));
        float[][] modelFeatures = _features.Features(sequences.SelectMany(group => group).ToArray());
        MauveResult mauve = Mauve.Compute(modelFeatures, _referenceFeatures, _options.Mauve);
        var groups = sequences.Select(group => (IReadOnlyList<int[]>)group.Select(s => s[promptLength..]).ToArray()).ToArray();
        return EvaluationRow.For(name, steps).With(mauve).With(EvaluationRow.SelfBleuName, SelfBleu.Mean(groups));
    }
}
