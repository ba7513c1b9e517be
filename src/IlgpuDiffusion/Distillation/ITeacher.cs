using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// A frozen denoiser x_θ as SDTT's teacher sees it: SUBS log-probs of chosen rows of a noisy batch. A
/// <see cref="DitTeacher"/> in production; tests plug in deterministic toys to check the target construction.
/// </summary>
internal interface ITeacher
{
    /// <summary>V: classes per row, MASK included as the last one.</summary>
    int Classes { get; }

    /// <summary>
    /// Writes log p_θ(x⁰ | ids) under SUBS (MASK probability 0, rows normalized) for each listed row. Called only
    /// for rows whose id is MASK, so carry-over rows never occur. Allocates nothing.
    /// </summary>
    /// <param name="ids">[batch, tokens] noisy ids</param>
    /// <param name="sigma">[batch] total noise σ(t) of each sequence, for time-conditioned teachers</param>
    /// <param name="rows">[count] distinct row indices b·tokens + l</param>
    /// <param name="logProbs">[count, Classes], overwritten</param>
    void LogProbs(Tensor<int> ids, ReadOnlySpan<float> sigma, Tensor<int> rows, int count, Tensor<float> logProbs);
}
