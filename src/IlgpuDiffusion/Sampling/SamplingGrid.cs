namespace IlgpuDiffusion.Sampling;

/// <summary>
/// The ancestral sampler's time grid (docs/algorithms.md §3.1): t_i = 1 − i·Δt for i = 0..N, Δt = (1 − ε)/N, so t_N = ε. At
/// step i a masked token is revealed with probability (m_t − m_s)/m_t = Δt/t_i (m = (1−ε')·t for the log-linear
/// schedule, whose constant cancels), otherwise it stays masked.
/// </summary>
/// <param name="Steps">N.</param>
/// <param name="Epsilon">ε, the last time.</param>
internal readonly record struct SamplingGrid(int Steps, double Epsilon)
{
    /// <summary>Δt = (1 − ε)/N.</summary>
    public double StepSize => (1 - Epsilon) / Steps;

    /// <summary>t_i, the time at the start of step <paramref name="step"/>.</summary>
    public double Time(int step) => 1 - step * StepSize;

    /// <summary>Δt/t_i: the chance that a masked token is revealed at step <paramref name="step"/>.</summary>
    public double RevealProbability(int step) => Math.Min(1, StepSize / Time(step));
}
