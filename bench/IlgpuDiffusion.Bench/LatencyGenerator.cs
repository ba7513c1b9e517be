namespace IlgpuDiffusion.Bench;

/// <summary>
/// A generator row of <see cref="LatencyBenchmarks"/>: the autoregressive model with its KV cache, or the diffusion sampler
/// at N steps (<see cref="StepsIsLength"/>: N = L, one step per token), with or without MDLM's cache.
/// </summary>
public sealed record LatencyGenerator(string Name, int Steps, bool StepsIsLength, bool Cached)
{
    /// <summary>GptDecoder with its KV cache.</summary>
    public static LatencyGenerator Autoregressive { get; } = new("AR KV cache", 0, false, false);

    /// <summary>Whether this is the autoregressive row.</summary>
    public bool IsAutoregressive => this == Autoregressive;

    /// <summary>DiffusionSampler at <paramref name="steps"/> steps.</summary>
    public static LatencyGenerator Diffusion(int steps, bool cached) =>
        new($"N={steps} {(cached ? "cached" : "uncached")}", steps, false, cached);

    /// <summary>DiffusionSampler at as many steps as tokens.</summary>
    public static LatencyGenerator DiffusionAtLength(bool cached) => new($"N=L {(cached ? "cached" : "uncached")}", 0, true, cached);

    /// <summary>The step count at sequence length <paramref name="length"/>.</summary>
    public int StepsAt(int length) => StepsIsLength ? length : Steps;

    /// <summary>Shown in the table.</summary>
    public override string ToString() => Name;
}
