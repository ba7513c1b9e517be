namespace IlgpuDiffusion.Evaluation;

/// <summary>Which parts of an <see cref="EvaluationSuite"/> run.</summary>
[Flags]
public enum EvaluationParts
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Unconditional samples at each step count, judged in both conventions, with unigram entropy (needs a judge).</summary>
    GenerativePerplexity = 1,

    /// <summary>
    /// Continuations of held-out prompts: MAUVE against the true continuations and self-BLEU (needs a judge and validation data).
    /// </summary>
    PromptedGeneration = 2,

    /// <summary>LAMBADA from a file in <c>lambada_test.jsonl</c> format (needs passages).</summary>
    Lambada = 4,

    /// <summary>The LAMBADA-style last-word cloze built from held-out documents (needs validation data).</summary>
    Cloze = 8,

    /// <summary>Validation perplexity: the diffusion NELBO bound and the AR model's exact perplexity (needs validation data).</summary>
    ValidationPerplexity = 16,

    /// <summary>Every part.</summary>
    All = GenerativePerplexity | PromptedGeneration | Lambada | Cloze | ValidationPerplexity,
}

/// <summary>
/// Settings of an <see cref="EvaluationSuite"/> run. The defaults are sized for a CPU run of a small model; SDTT's
/// protocol (docs/algorithms.md §5) is 1024 samples of 1024 tokens at 8..1024 steps, 1024 prompts of 50 tokens with 50-token
/// continuations, 5 per prompt, MAUVE seeds 1..5, 32 LAMBADA time draws.
/// </summary>
public sealed record EvaluationOptions
{
    /// <summary>The parts to run (each also needs its inputs; a part without them is skipped with a note).</summary>
    public EvaluationParts Parts { get; init; } = EvaluationParts.All;

    /// <summary>Sampling step counts: one report row per diffusion model and step count.</summary>
    public IReadOnlyList<int> Steps { get; init; } = [16, 32, 64, 128];

    /// <summary>Unconditional samples per model and step count.</summary>
    public int Samples { get; init; } = 32;

    /// <summary>Tokens per unconditional sample; null for the diffusion model's length.</summary>
    public int? SampleLength { get; init; }

    /// <summary>Sequences sampled together.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Seed of the samples (SDTT: 100); batch b samples with seed + b.</summary>
    public ulong Seed { get; init; } = 100;

    /// <summary>Nucleus mass of the AR baseline's samples (1: ancestral; the SDTT paper also compares GPT-2 at 0.95).</summary>
    public float ArTopP { get; init; } = 1f;

    /// <summary>
    /// How samples become judge tokens for the MDLM/DUO convention; null skips that convention. The default decodes and
    /// encodes GPT-2 ids; models over another tokenizer need <see cref="Evaluation.Retokenization.For"/> with theirs.
    /// </summary>
    public Retokenization? Retokenization { get; init; } = Retokenization.Gpt2();

    /// <summary>Held-out prompts for MAUVE and self-BLEU.</summary>
    public int Prompts { get; init; } = 32;

    /// <summary>Prompt tokens (SDTT: 50).</summary>
    public int PromptLength { get; init; } = 50;

    /// <summary>Continuation tokens after the prompt (SDTT: 50).</summary>
    public int ContinuationLength { get; init; } = 50;

    /// <summary>Continuations per prompt (SDTT: 5).</summary>
    public int ContinuationsPerPrompt { get; init; } = 5;

    /// <summary>MAUVE settings (the reference's defaults, seeds 1..5).</summary>
    public MauveOptions Mauve { get; init; } = MauveOptions.Default;

    /// <summary>Time draws of the diffusion LAMBADA ELBO (SDTT: 32).</summary>
    public int LambadaTimeDraws { get; init; } = DiffusionLambada.DefaultTimeDraws;

    /// <summary>Most LAMBADA examples scored (the first ones of the file); null for all.</summary>
    public int? MaxLambadaExamples { get; init; }

    /// <summary>How the cloze passages are cut from held-out documents.</summary>
    public LambadaClozeOptions Cloze { get; init; } = LambadaClozeOptions.Default with { MaxPassages = 500 };

    /// <summary>Sequences per validation batch.</summary>
    public int ValidationBatchSize { get; init; } = 8;

    /// <summary>Most validation batches (0: the whole split).</summary>
    public int ValidationBatches { get; init; }

    /// <summary>Checks every setting; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public EvaluationOptions Validate()
    {
        if (Steps is null || Steps.Count == 0 || Steps.Any(s => s < 1))
            throw new ArgumentException("Give at least one step count, each at least 1.", nameof(Steps));
        if (Samples < 1) throw new ArgumentException($"{nameof(Samples)} must be at least 1; got {Samples}.", nameof(Samples));
        if (SampleLength is < 2)
            throw new ArgumentException($"{nameof(SampleLength)} must be at least 2; got {SampleLength}.", nameof(SampleLength));
        if (!(ArTopP > 0 && ArTopP <= 1)) throw new ArgumentException($"{nameof(ArTopP)} must be in (0, 1]; got {ArTopP}.", nameof(ArTopP));
        if (BatchSize < 1) throw new ArgumentException($"{nameof(BatchSize)} must be at least 1; got {BatchSize}.", nameof(BatchSize));
        if (Prompts < 1) throw new ArgumentException($"{nameof(Prompts)} must be at least 1; got {Prompts}.", nameof(Prompts));
        if (PromptLength < 1 || ContinuationLength < 1)
            throw new ArgumentException($"Prompt and continuation need at least 1 token each; got {PromptLength} and {ContinuationLength}.",
                nameof(PromptLength));
        if (ContinuationsPerPrompt < 2)
            throw new ArgumentException($"Self-BLEU needs at least 2 continuations per prompt; got {ContinuationsPerPrompt}.",
                nameof(ContinuationsPerPrompt));
        if (LambadaTimeDraws < 1)
            throw new ArgumentException($"{nameof(LambadaTimeDraws)} must be at least 1; got {LambadaTimeDraws}.",
                nameof(LambadaTimeDraws));
        if (MaxLambadaExamples is < 1)
            throw new ArgumentException($"{nameof(MaxLambadaExamples)} must be at least 1 when set; got {MaxLambadaExamples}.",
                nameof(MaxLambadaExamples));
        if (ValidationBatchSize < 1 || ValidationBatches < 0)
            throw new ArgumentException("Validation needs a batch size ≥ 1 and a batch count ≥ 0; " +
                $"got {ValidationBatchSize} and {ValidationBatches}.", nameof(ValidationBatchSize));
        ArgumentNullException.ThrowIfNull(Mauve, nameof(Mauve));
        ArgumentNullException.ThrowIfNull(Cloze, nameof(Cloze));
        return this;
    }
}
