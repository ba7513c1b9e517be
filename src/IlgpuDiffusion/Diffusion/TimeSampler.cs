using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Diffusion;

/// <summary>How a batch of diffusion times is drawn (docs/algorithms.md §2.5).</summary>
internal enum TimeSampling
{
    /// <summary>
    /// MDLM's antithetic (stratified) draw: u_i ~ U(0,1) i.i.d. and t̃_i = (u_i/n + i/n) mod 1, so each of the
    /// n strata [i/n, (i+1)/n) holds exactly one time.
    /// </summary>
    Stratified,

    /// <summary>SDTT's variant: one shared u ~ U(0,1) and t̃_i = (u + i/n) mod 1, an evenly spaced grid with a random offset.</summary>
    SharedOffset,
}

/// <summary>
/// Draws one diffusion time per sequence, t_i = (1−ε)·t̃_i + ε ∈ [ε, 1], from counter-based random numbers:
/// the same (seed, stream) always gives the same times, so training resumes exactly from its micro-batch counter.
/// </summary>
/// <param name="Sampling">Stratified (MDLM) or shared offset (SDTT).</param>
/// <param name="Epsilon">The smallest time: 1e-3 for MDLM, 1e-5 for SDTT.</param>
internal sealed record TimeSampler(TimeSampling Sampling, double Epsilon)
{
    /// <summary>MDLM training: stratified on [1e-3, 1].</summary>
    public static TimeSampler Mdlm { get; } = new(TimeSampling.Stratified, 1e-3);

    /// <summary>SDTT distillation: shared offset on [1e-5, 1].</summary>
    public static TimeSampler Sdtt { get; } = new(TimeSampling.SharedOffset, 1e-5);

    /// <summary>Fills <paramref name="times"/> (<c>[n]</c>, one per sequence) from the uniforms of (seed, stream).</summary>
    /// <exception cref="ArgumentOutOfRangeException">ε is not in [0, 1).</exception>
    public void Sample(ulong seed, ulong stream, Span<double> times)
    {
        if (!(Epsilon >= 0 && Epsilon < 1))
            throw new ArgumentOutOfRangeException(nameof(Epsilon), $"The time sampler's ε must be in [0, 1); got {Epsilon}.");
        int n = times.Length;
        double shared = Philox.UniformDouble(seed, stream, 0);
        for (int i = 0; i < n; i++)
        {
            double stratum = Sampling == TimeSampling.Stratified
                ? Philox.UniformDouble(seed, stream, i) / n + (double)i / n
                : shared + (double)i / n;
            double unit = stratum - Math.Floor(stratum);
            times[i] = (1 - Epsilon) * unit + Epsilon;
        }
    }
}
