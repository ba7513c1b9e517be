using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Rows of <paramref name="Classes"/> logits whose first <paramref name="Vocab"/> take part (the rest pad a head's width),
/// MASK at <paramref name="MaskIndex"/> (−1 for none).
/// </summary>
internal readonly record struct LogitRows(int Classes, int Vocab, int MaskIndex);

/// <summary>
/// The SUBS log-softmax and the fused SUBS cross-entropy over [rows, classes], one group per row
/// (a power of two of threads walking the row with stride Group.DimX, so V = 50258 is a few strided
/// passes) with deterministic shared-memory reductions. The MASK logit counts as logit − 1e6 on the
/// fly; the padding after the vocabulary is never read, only written (−∞ log-probs, 0 gradients). A row's outputs
/// are written only after its reductions, each element by the thread that read it, so outputs may alias the logits.
/// </summary>
internal static class LossKernels
{
    /// <summary>The finite "−∞" SUBS adds to the MASK logit.</summary>
    public const float MaskPenalty = -1e6f;

    /// <summary>
    /// logProbs[r, c] = subs(logits[r, c]) − logsumexp_c subs(logits[r, ·]) over the vocabulary, −∞ on the padding.
    /// Grid: rows groups; shared Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void SubsLogSoftmax(ArrayView<float> logits, ArrayView<float> logProbs, LogitRows rows)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int start = Grid.IdxX * rows.Classes;
        float max = RowMaxAndExpSum(shared, logits, start, rows.Vocab, rows.MaskIndex, out float sum);
        float lse = max + MathF.Log(sum);
        for (int c = Group.IdxX; c < rows.Vocab; c += Group.DimX)
            logProbs[start + c] = Subs(logits[start + c], c, rows.MaskIndex) - lse;
        FillPadding(logProbs, start, rows, float.NegativeInfinity);
    }

    /// <summary>
    /// losses[r] = w_r·(lse_r − logits[r, target_r]); with <paramref name="hasGradient"/> ≠ 0,
    /// dLogits[r, c] = gradScale·w_r·(p_r[c] − [c = target_r]), 0 on the padding. Rows of weight 0: loss 0, gradient 0.
    /// Grid: rows groups; shared Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void SubsCrossEntropy(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> weights,
        ArrayView<float> losses, ArrayView<float> dLogits, LogitRows rows, float gradScale, int hasGradient)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, start = row * rows.Classes;
        float weight = weights[row];
        if (weight == 0f) // the same branch for the whole group
        {
            if (Group.IdxX == 0) losses[row] = 0f;
            if (hasGradient != 0)
                for (int c = Group.IdxX; c < rows.Classes; c += Group.DimX) dLogits[start + c] = 0f;
            return;
        }
        int target = targets[row];
        float targetLogit = logits[start + target]; // read before any thread passes a barrier and writes
        float max = RowMaxAndExpSum(shared, logits, start, rows.Vocab, rows.MaskIndex, out float sum);
        if (Group.IdxX == 0) losses[row] = weight * (max + MathF.Log(sum) - targetLogit);
        if (hasGradient == 0) return;
        float scale = gradScale * weight, probabilityScale = scale / sum;
        for (int c = Group.IdxX; c < rows.Vocab; c += Group.DimX)
        {
            float g = MathF.Exp(Subs(logits[start + c], c, rows.MaskIndex) - max) * probabilityScale;
            dLogits[start + c] = c == target ? g - scale : g;
        }
        FillPadding(dLogits, start, rows, 0f);
    }

    /// <summary>Sets the padding of the row at <paramref name="start"/> (entries Vocab .. Classes) to <paramref name="value"/>.</summary>
    public static void FillPadding(ArrayView<float> output, int start, in LogitRows rows, float value)
    {
        for (int c = rows.Vocab + Group.IdxX; c < rows.Classes; c += Group.DimX) output[start + c] = value;
    }

    /// <summary>The SUBS-adjusted logit of class <paramref name="c"/>.</summary>
    public static float Subs(float logit, int c, int maskIndex) => c == maskIndex ? logit + MaskPenalty : logit;

    /// <summary>
    /// max_c subs(row[c]) over the first <paramref name="entries"/> of the row at <paramref name="start"/>, returned, and
    /// Σ_c exp(subs(row[c]) − max) in <paramref name="sum"/>, in one pass over the row (online softmax, arXiv:1805.02867):
    /// each thread rescales its running sum when its maximum grows, then by the row's maximum before the sums are added.
    /// Every thread gets both.
    /// </summary>
    public static float RowMaxAndExpSum(ArrayView<float> shared, ArrayView<float> logits, int start, int entries, int maskIndex,
        out float sum)
    {
        float max = float.NegativeInfinity, own = 0f;
        for (int c = Group.IdxX; c < entries; c += Group.DimX)
        {
            float x = Subs(logits[start + c], c, maskIndex);
            if (x > max)
            {
                own = own * MathF.Exp(max - x) + 1f;
                max = x;
            }
            else
            {
                own += MathF.Exp(x - max);
            }
        }
        float rowMax = GroupReductions.Max(shared, max);
        // A thread without elements (rows shorter than the group) has nothing to rescale.
        sum = GroupReductions.Sum(shared, own == 0f ? 0f : own * MathF.Exp(max - rowMax));
        return rowMax;
    }
}
