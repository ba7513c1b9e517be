using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// A frozen denoiser x_θ as SDTT's teacher sees it: SUBS log-probs of chosen rows of a noisy batch, the rows in chunks
/// after one pass over the batch. A <see cref="DitTeacher"/> in production; tests plug in deterministic toys to check
/// the target construction.
/// </summary>
internal interface ITeacher
{
    /// <summary>The columns of a row of log-probs: the vocabulary (MASK last), then any padding.</summary>
    HeadLayout Head { get; }

    /// <summary>Reads a noisy batch; <see cref="LogProbs"/> then serves rows of it until the next call. Allocates nothing.</summary>
    /// <param name="ids">[batch, tokens] noisy ids</param>
    /// <param name="sigma">[batch] total noise σ(t) of each sequence, for time-conditioned teachers</param>
    void Prepare(Tensor<int> ids, ReadOnlySpan<float> sigma);

    /// <summary>
    /// Writes log p_θ(x⁰ | ids) under SUBS (MASK probability 0, rows normalized) for each listed row of the last
    /// <see cref="Prepare"/>d batch. Called only for rows whose id is MASK, so carry-over rows never occur. Allocates nothing.
    /// </summary>
    /// <param name="rows">[count] distinct row indices b·tokens + l</param>
    /// <param name="logProbs">[count, Head.Width], overwritten; −∞ on the padding</param>
    void LogProbs(Tensor<int> rows, int count, Tensor<float> logProbs);
}
