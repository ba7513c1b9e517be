namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// MDLM's log-linear noise schedule (<c>LogLinearNoise</c>, docs/algorithms.md §2.1): a token is masked at time
/// t ∈ [0, 1] with probability (1−ε)·t, so α_t = 1 − (1−ε)·t runs from 1 to ε. All values in double.
/// </summary>
internal sealed record NoiseSchedule
{
    /// <summary>The schedule MDLM trains with: ε = 1e-3.</summary>
    public static NoiseSchedule LogLinear { get; } = new();

    /// <summary>Creates a log-linear schedule with keep probability <paramref name="epsilon"/> at t = 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epsilon"/> is not in [0, 1).</exception>
    public NoiseSchedule(double epsilon = 1e-3)
    {
        if (!(epsilon >= 0 && epsilon < 1))
            throw new ArgumentOutOfRangeException(nameof(epsilon), $"The schedule's ε must be in [0, 1); got {epsilon}.");
        Epsilon = epsilon;
    }

    /// <summary>ε: the keep probability left at t = 1.</summary>
    public double Epsilon { get; }

    /// <summary>Total noise σ(t) = −log(1 − (1−ε)·t).</summary>
    public double TotalNoise(double t) => -Math.Log(1 - (1 - Epsilon) * t);

    /// <summary>Noise rate σ'(t) = (1−ε) / (1 − (1−ε)·t).</summary>
    public double NoiseRate(double t) => (1 - Epsilon) / (1 - (1 - Epsilon) * t);

    /// <summary>Probability that a token is masked at time t ("move chance"): 1 − e^{−σ(t)} = (1−ε)·t.</summary>
    public double MoveChance(double t) => (1 - Epsilon) * t;

    /// <summary>Probability that a token is still clean at time t: α_t = e^{−σ(t)} = 1 − (1−ε)·t.</summary>
    public double KeepProbability(double t) => 1 - (1 - Epsilon) * t;

    /// <summary>
    /// The continuous-time NELBO weight of a masked token, σ'(t)/(e^{σ(t)} − 1), which for this schedule is
    /// exactly 1/t (docs/algorithms.md §2.4); returned in that closed form.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="t"/> is not in (0, 1].</exception>
    public double LossWeight(double t)
    {
        if (!(t > 0 && t <= 1)) throw new ArgumentOutOfRangeException(nameof(t), $"Diffusion time must be in (0, 1]; got {t}.");
        return 1 / t;
    }
}
