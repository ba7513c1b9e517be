namespace IlgpuDiffusion.Distillation;

/// <summary>
/// The times t_0 … t_{K−1} of the K ancestral teacher steps behind an SDTT target, from the student's time t and
/// the teacher step Δ (docs/algorithms.md §4.3). The paper's Algorithm 1 uses t_i = max(t − i·Δ, ε). The released code computes
/// <c>t·space + (1 − t)·t_end</c> with <c>space = linspace(1, 0, K)</c> and t_end = t − K·Δ, clamped at ε: a typo for
/// <c>(1 − space)</c> that starts the teacher later (t_0 ≥ t), so its first step reveals fewer tokens.
/// </summary>
internal static class TeacherTimeGrid
{
    /// <summary>ε: the smallest time a teacher step runs at.</summary>
    public const double Epsilon = 1e-5;

    /// <summary>t_i of teacher step <paramref name="step"/> (from 0) of <paramref name="steps"/>.</summary>
    /// <param name="time">The student's time t in (0, 1].</param>
    /// <param name="stepSize">Δ, positive.</param>
    /// <param name="compatReleasedCode">The released code's grid instead of the paper's.</param>
    public static double Time(double time, double stepSize, int step, int steps, bool compatReleasedCode)
    {
        if (!(time > 0 && time <= 1)) throw new ArgumentOutOfRangeException(nameof(time), $"Diffusion time must be in (0, 1]; got {time}.");
        if (!(stepSize > 0)) throw new ArgumentOutOfRangeException(nameof(stepSize), $"The teacher step must be positive; got {stepSize}.");
        if (step < 0 || step >= steps) throw new ArgumentOutOfRangeException(nameof(step), $"Teacher step {step} is outside [0, {steps}).");
        if (!compatReleasedCode) return Math.Max(time - step * stepSize, Epsilon);
        double space = steps == 1 ? 1 : 1 - (double)step / (steps - 1);
        double end = time - steps * stepSize;
        return Math.Max(time * space + (1 - time) * end, Epsilon);
    }

    /// <summary>
    /// Probability that a masked position is revealed by the ancestral step from t_i to t_i − Δ: (m_t − m_s)/m_t = Δ/t_i,
    /// and 1 once Δ ≥ t_i (the step reaches past 0 and reveals everything).
    /// </summary>
    public static double RevealProbability(double stepTime, double stepSize) => Math.Min(1, stepSize / stepTime);
}
