using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The SUBS log-softmax and the fused SUBS cross-entropy over [rows, classes], one group per row
/// (a power of two of threads walking the row with stride Group.DimX, so V = 50258 is a few strided
/// passes) with deterministic shared-memory reductions. The MASK logit counts as logit − 1e6 on the
/// fly; a row's outputs are written only after its reductions, each element by the thread that read
/// it, so outputs may alias the logits.
/// </summary>
internal static class LossKernels
{
    /// <summary>The finite "−∞" SUBS adds to the MASK logit.</summary>
    public const float MaskPenalty = -1e6f;

    /// <summary>
    /// logProbs[r, c] = subs(logits[r, c]) − logsumexp_c subs(logits[r, ·]). Grid: rows groups; shared Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void SubsLogSoftmax(ArrayView<float> logits, ArrayView<float> logProbs, int classes, int maskIndex)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int start = Grid.IdxX * classes;
        float max = RowMax(shared, logits, start, classes, maskIndex);
        float lse = max + MathF.Log(RowExpSum(shared, logits, start, classes, maskIndex, max));
        for (int c = Group.IdxX; c < classes; c += Group.DimX)
            logProbs[start + c] = Subs(logits[start + c], c, maskIndex) - lse;
    }

    /// <summary>
    /// losses[r] = w_r·(lse_r − logits[r, target_r]); with <paramref name="hasGradient"/> ≠ 0,
    /// dLogits[r, c] = gradScale·w_r·(p_r[c] − [c = target_r]). Rows of weight 0: loss 0, gradient 0.
    /// Grid: rows groups; shared Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void SubsCrossEntropy(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> weights,
        ArrayView<float> losses, ArrayView<float> dLogits, int classes, int maskIndex, float gradScale, int hasGradient)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, start = row * classes;
        float weight = weights[row];
        if (weight == 0f) // the same branch for the whole group
        {
            if (Group.IdxX == 0) losses[row] = 0f;
            if (hasGradient != 0)
                for (int c = Group.IdxX; c < classes; c += Group.DimX) dLogits[start + c] = 0f;
            return;
        }
        int target = targets[row];
        float targetLogit = logits[start + target]; // read before any thread passes a barrier and writes
        float max = RowMax(shared, logits, start, classes, maskIndex);
        float sum = RowExpSum(shared, logits, start, classes, maskIndex, max);
        if (Group.IdxX == 0) losses[row] = weight * (max + MathF.Log(sum) - targetLogit);
        if (hasGradient == 0) return;
        float scale = gradScale * weight, probabilityScale = scale / sum;
        for (int c = Group.IdxX; c < classes; c += Group.DimX)
        {
            float g = MathF.Exp(Subs(logits[start + c], c, maskIndex) - max) * probabilityScale;
            dLogits[start + c] = c == target ? g - scale : g;
        }
    }

    /// <summary>The SUBS-adjusted logit of class <paramref name="c"/>.</summary>
    public static float Subs(float logit, int c, int maskIndex) => c == maskIndex ? logit + MaskPenalty : logit;

    /// <summary>max_c subs(row[c]) over the row at <paramref name="start"/>; every thread gets it.</summary>
    public static float RowMax(ArrayView<float> shared, ArrayView<float> logits, int start, int classes, int maskIndex)
    {
        float max = float.NegativeInfinity;
        for (int c = Group.IdxX; c < classes; c += Group.DimX)
        {
            float x = Subs(logits[start + c], c, maskIndex);
            if (x > max) max = x;
        }
        return GroupReductions.Max(shared, max);
    }

    /// <summary>Σ_c exp(subs(row[c]) − max); every thread gets it.</summary>
    public static float RowExpSum(ArrayView<float> shared, ArrayView<float> logits, int start, int classes, int maskIndex, float max)
    {
        float sum = 0f;
        for (int c = Group.IdxX; c < classes; c += Group.DimX) sum += MathF.Exp(Subs(logits[start + c], c, maskIndex) - max);
        return GroupReductions.Sum(shared, sum);
    }
}
