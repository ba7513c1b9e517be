using IlgpuDiffusion.Model;

namespace IlgpuDiffusion.Training;

/// <summary>
/// Model FLOPs of one training token (forward + backward), for MFU: 6 per weight a token passes through
/// (2 forward, 4 backward) plus the attention term 12·layers·L·D of PaLM's appendix B (QKᵀ and AV, forward and
/// backward). The input embedding is a lookup and counts 0. The output head counts for every token although
/// training computes it only on masked rows, as the usual estimate does.
/// </summary>
public static class TrainingFlops
{
    /// <summary>FLOPs per token slot of a training step of <paramref name="config"/> at sequence length <paramref name="tokens"/>.</summary>
    public static double PerToken(DitConfig config, int tokens)
    {
        ArgumentNullException.ThrowIfNull(config);
        double weights = config.ParameterCount() - (double)config.Vocab * config.Hidden;
        return 6 * weights + 12.0 * config.Layers * tokens * config.Hidden;
    }
}
