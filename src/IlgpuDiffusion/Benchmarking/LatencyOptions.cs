namespace IlgpuDiffusion.Benchmarking;

/// <summary>
/// What <see cref="LatencyComparison"/> measures: B sequences of L tokens generated from scratch by the diffusion
/// sampler at each step count (with and, if asked, without MDLM's cache) and by the autoregressive model with its KV cache.
/// </summary>
public sealed record LatencyOptions
{
    /// <summary>Sequences generated together (B).</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Generated tokens per sequence (L): at most the diffusion model's length, and below the GPT's.</summary>
    public int Length { get; init; } = 128;

    /// <summary>Diffusion step counts N, in the order the rows appear (the paper's grid is 8, 16, 32, 64, 128 and L).</summary>
    public IReadOnlyList<int> Steps { get; init; } = [8, 16, 32, 64, 128];

    /// <summary>Also time the diffusion sampler without its cache (a trunk pass at every step).</summary>
    public bool IncludeUncached { get; init; } = true;

    /// <summary>Untimed runs of every generator before its timed ones (JIT, first-touch of the buffers).</summary>
    public int WarmupRuns { get; init; } = 1;

    /// <summary>Timed runs of every generator; the table shows their mean.</summary>
    public int TimedRuns { get; init; } = 1;

    /// <summary>
    /// After each generator's timed runs, one more run under a <see cref="Compute.KernelProfile"/> of the device
    /// (<see cref="LatencyMeasurement.Profile"/>): where a generation's time goes, op by op. The timed runs stay unprofiled.
    /// </summary>
    public bool Profile { get; init; }

    /// <summary>Seed of every draw.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Throws naming the first setting out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public LatencyOptions Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), $"The batch size must be at least 1; got {BatchSize}.");
        if (Length < 1) throw new ArgumentOutOfRangeException(nameof(Length), $"The length must be at least 1; got {Length}.");
        ArgumentNullException.ThrowIfNull(Steps);
        if (Steps.Count == 0) throw new ArgumentOutOfRangeException(nameof(Steps), "Give at least one diffusion step count.");
        foreach (int steps in Steps)
            if (steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), $"Every step count must be at least 1; got {steps}.");
        if (WarmupRuns < 0) throw new ArgumentOutOfRangeException(nameof(WarmupRuns), $"Warm-up runs must be ≥ 0; got {WarmupRuns}.");
        if (TimedRuns < 1) throw new ArgumentOutOfRangeException(nameof(TimedRuns), $"Timed runs must be at least 1; got {TimedRuns}.");
        return this;
    }
}
