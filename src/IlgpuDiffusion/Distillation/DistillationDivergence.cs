using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// The divergence an SDTT student minimizes to its teacher's targets, row by row over masked positions (docs/algorithms.md §4.4).
/// </summary>
public enum DistillationDivergence
{
    /// <summary>Reverse KL(student‖teacher), the paper's KLD and the released model's <c>kl-bwd</c>.</summary>
    ReverseKl,

    /// <summary>Forward KL(teacher‖student) (<c>kl-fwd</c>).</summary>
    ForwardKl,

    /// <summary>Mean squared error of log-probs over all entries (paper Eq. 11 and the code's <c>mse</c> agree).</summary>
    Mse,

    /// <summary>
    /// Total variation: ½·Σ|p_s − p_t| on probabilities as in the paper (Eq. 10), or, with
    /// <see cref="DistillationConfig.CompatReleasedCode"/>, the released code's Σ|log p_s − log p_t|.
    /// </summary>
    Tvd,
}

/// <summary>Maps a <see cref="DistillationDivergence"/> onto the divergence kernel that computes it.</summary>
internal static class DistillationDivergences
{
    /// <summary>The kernel divergence of <paramref name="divergence"/> under the paper's definitions or the released code's.</summary>
    public static Divergence Kernel(this DistillationDivergence divergence, bool compatReleasedCode) => divergence switch
    {
        DistillationDivergence.ReverseKl => Divergence.ReverseKl,
        DistillationDivergence.ForwardKl => Divergence.ForwardKl,
        DistillationDivergence.Mse => Divergence.LogProbMse,
        DistillationDivergence.Tvd => compatReleasedCode ? Divergence.LogProbL1 : Divergence.TotalVariation,
        _ => throw new ArgumentOutOfRangeException(nameof(divergence), $"Unknown distillation divergence {divergence}."),
    };
}
