using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion;

/// <summary>How <see cref="DiffusionLanguageModel"/> and <see cref="GptLanguageModel"/> generate; every setting has a default.</summary>
public sealed record GenerationOptions
{
    /// <summary>Texts generated together (one batch).</summary>
    public int Samples { get; init; } = 1;

    /// <summary>Tokens per sequence, the prompt included, at most the model's length; null: the model's length.</summary>
    public int? Length { get; init; }

    /// <summary>The seed of every random choice; the same seed gives the same text on the CPU backend.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Logits are divided by it before each draw; 0 is greedy.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Nucleus mass in (0, 1] of each draw; 1 turns nucleus sampling off.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>How each draw turns random numbers into ids (the same distribution either way).</summary>
    public CategoricalDraw Draw { get; init; } = CategoricalDraw.InverseCdf;

    /// <summary>
    /// Denoising steps of a diffusion model; null: the model's own (<see cref="DiffusionLanguageModel.SamplingSteps"/>). An
    /// autoregressive model draws one token per step and refuses this setting.
    /// </summary>
    public int? Steps { get; init; }
}
