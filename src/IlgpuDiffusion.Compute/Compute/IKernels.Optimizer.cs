namespace IlgpuDiffusion.Compute;

// The optimizer: AdamW, the squared norm for gradient clipping, and the EMA of parameters.
public partial interface IKernels
{
    /// <summary>
    /// One AdamW step (PyTorch semantics) with the gradient multiplied by <paramref name="gradScale"/>
    /// (the clipping factor): param −= lr·wd·param; m = β1m + (1−β1)g; v = β2v + (1−β2)g²;
    /// param −= lr·(m/(1−β1^step)) / (sqrt(v/(1−β2^step)) + eps). <paramref name="step"/> starts at 1.
    /// </summary>
    /// <param name="parameters">[count], updated</param>
    /// <param name="gradients">[count]</param>
    /// <param name="firstMoment">[count], updated</param>
    /// <param name="secondMoment">[count], updated</param>
    void AdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment,
        int count, in AdamWParameters hyper, int step, float gradScale);

    /// <summary>
    /// <see cref="AdamWStep"/> with the gradient scale computed on the device from <paramref name="sumOfSquares"/>[0] = ‖g‖²
    /// (as <see cref="SumOfSquares"/> leaves it): PyTorch's <c>clip_grad_norm_</c> factor min(1, maxNorm/(‖g‖ + 1e-6)) in
    /// double, or 1 when <paramref name="maxNorm"/> ≤ 0, so the host need not read the norm before the update. Where ‖g‖² is
    /// not finite nothing is updated: the caller, reading the norm later, stops the run with the weights intact. With
    /// <paramref name="ema"/>, the same pass also takes the <see cref="EmaUpdate"/> of the updated parameters (which would
    /// otherwise read them again), with the same result.
    /// </summary>
    /// <param name="sumOfSquares">[1] ‖g‖²</param>
    /// <param name="ema">[count] the parameters' moving average, updated after them with <paramref name="emaDecay"/>, or null</param>
    /// <param name="emaDecay">The decay of the EMA update.</param>
    void ClippedAdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment,
        int count, in AdamWParameters hyper, int step, Tensor<float> sumOfSquares, double maxNorm, Tensor<float>? ema = null,
        float emaDecay = 0f);

    /// <summary>result[0] = Σ x[i]², deterministic for a given backend and count.</summary>
    /// <param name="x">[count]</param>
    /// <param name="result">[1], overwritten</param>
    void SumOfSquares(Tensor<float> x, Tensor<float> result, int count);

    /// <summary>ema = decay·ema + (1 − decay)·parameters.</summary>
    void EmaUpdate(Tensor<float> parameters, Tensor<float> ema, int count, float decay);
}

/// <summary>Gradient clipping as PyTorch's <c>clip_grad_norm_</c> computes it.</summary>
public static class GradientClipping
{
    /// <summary>
    /// The factor the gradients are multiplied by: min(1, maxNorm/(√sumOfSquares + 1e-6)) in double, 1 when
    /// <paramref name="maxNorm"/> ≤ 0; NaN when <paramref name="sumOfSquares"/> is not finite (the step must not happen).
    /// </summary>
    public static float Factor(float sumOfSquares, double maxNorm)
    {
        if (!float.IsFinite(sumOfSquares)) return float.NaN;
        return maxNorm > 0 ? (float)Math.Min(1, maxNorm / (Math.Sqrt(sumOfSquares) + 1e-6)) : 1f;
    }
}

/// <summary>AdamW hyper-parameters for one step.</summary>
/// <param name="LearningRate">lr of this step.</param>
/// <param name="Beta1">First-moment decay.</param>
/// <param name="Beta2">Second-moment decay.</param>
/// <param name="Epsilon">Added to the root of the second moment.</param>
/// <param name="WeightDecay">Decoupled weight decay (multiplied by lr).</param>
public readonly record struct AdamWParameters(float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f,
    float Epsilon = 1e-8f, float WeightDecay = 0f);
