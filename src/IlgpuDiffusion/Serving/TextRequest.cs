namespace IlgpuDiffusion.Serving;

/// <summary>One completion request to a <see cref="TextGenerationEngine"/>; every setting has a default.</summary>
public sealed record TextRequest
{
    /// <summary>The text the completions continue (empty: unconditional).</summary>
    public string Prompt { get; init; } = "";

    /// <summary>Text the completions must end with (infilling); diffusion models only.</summary>
    public string? Suffix { get; init; }

    /// <summary>New tokens per completion; null: fill the model's length after the prompt.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Completions of the prompt (OpenAI's <c>n</c>), at most the engine's <see cref="TextEngineOptions.MaxBatch"/>.</summary>
    public int Samples { get; init; } = 1;

    /// <summary>Logits are divided by it before each draw; 0 is greedy.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Nucleus mass in (0, 1] of each draw; 1 turns nucleus sampling off.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>
    /// The seed of every random choice: a request with a seed gives the texts the language model's own <c>Generate</c>
    /// gives for the same settings and seed. Null: a fresh random seed.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>Denoising steps of a diffusion model; null: a distilled student's own, else the sampler's default.</summary>
    public int? Steps { get; init; }
}
