using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Sampling;

/// <summary>Settings of the ancestral (DDPM) sampler of a masked diffusion model (docs/algorithms.md §3).</summary>
public sealed record SamplerOptions
{
    /// <summary>Denoising steps N on the uniform grid t: 1 → ε.</summary>
    public int Steps { get; init; } = 128;

    /// <summary>Sequences sampled together.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>
    /// MDLM's <c>ddpm_cache</c>: reuse the model output while no token changed instead of running the model again.
    /// Exact for models without time conditioning; a time-conditioned model always runs uncached.
    /// </summary>
    public bool Cached { get; init; } = true;

    /// <summary>The seed of every random choice; the same seed gives the same text on the CPU backend.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// Logits are divided by it before each draw; 1 samples the model's distribution, 0 is greedy (each revealed position takes
    /// its most likely token; which positions a step reveals stays random).
    /// </summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Nucleus mass in (0, 1] for each draw; 1 disables nucleus sampling (the papers' setting).</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>
    /// How each draw turns random numbers into ids (the same distribution either way): the inverse CDF (the default, one
    /// uniform per position) or MDLM's exponential race (one per vocabulary entry; slower, reproduces its ids).
    /// </summary>
    public CategoricalDraw Draw { get; init; } = CategoricalDraw.InverseCdf;

    /// <summary>The grid's last time ε (1e-5 in MDLM and SDTT).</summary>
    public double Epsilon { get; init; } = 1e-5;

    /// <summary>After the last step, fill any position still masked with the model's most likely token.</summary>
    public bool NoiseRemoval { get; init; } = true;

    /// <summary>Checks every setting; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is outside its range.</exception>
    public SamplerOptions Validate()
    {
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), $"Sampling needs at least 1 step; got {Steps}.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), $"The batch size must be at least 1; got {BatchSize}.");
        if (!(Temperature >= 0) || float.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature),
                $"The temperature must be finite and ≥ 0 (0: greedy); got {Temperature}.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), $"Top-p must be in (0, 1]; got {TopP}.");
        if (!Enum.IsDefined(Draw)) throw new ArgumentOutOfRangeException(nameof(Draw), $"{(int)Draw} is not a categorical draw method.");
        if (!(Epsilon > 0 && Epsilon < 1)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"ε must be in (0, 1); got {Epsilon}.");
        return this;
    }
}
