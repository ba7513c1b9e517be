using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Benchmarking;

/// <summary>One generator's wall time for B sequences of L tokens.</summary>
/// <param name="Generator">"diffusion" or "autoregressive (KV cache)".</param>
/// <param name="Steps">Diffusion steps N; null for the autoregressive model.</param>
/// <param name="Cached">Whether the diffusion sampler used MDLM's cache; null for the autoregressive model.</param>
/// <param name="Mean">Mean wall time of one generation over the timed runs.</param>
/// <param name="Fastest">Fastest timed run.</param>
/// <param name="ForwardPasses">Model passes of one generation (diffusion: trunk passes; autoregressive: prefill and
/// decoding passes).</param>
/// <param name="Tokens">Tokens generated per run (B·L).</param>
public sealed record LatencyMeasurement(
    string Generator, int? Steps, bool? Cached, TimeSpan Mean, TimeSpan Fastest, int ForwardPasses, int Tokens)
{
    /// <summary>The generator name of the diffusion sampler.</summary>
    public const string Diffusion = "diffusion";

    /// <summary>The generator name of the autoregressive model.</summary>
    public const string Autoregressive = "autoregressive (KV cache)";

    /// <summary>Whether this row is the autoregressive model.</summary>
    public bool IsAutoregressive => Steps is null;

    /// <summary>
    /// The ops of one more run after the timed ones, when <see cref="LatencyOptions.Profile"/> asked for it (ended, its
    /// numbers readable); else null.
    /// </summary>
    public KernelProfile? Profile { get; init; }

    /// <summary>Generated tokens per second of mean wall time.</summary>
    public double TokensPerSecond => Tokens / Math.Max(Mean.TotalSeconds, 1e-12);
}
