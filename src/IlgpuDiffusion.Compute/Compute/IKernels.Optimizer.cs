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

    /// <summary>result[0] = Σ x[i]², deterministic for a given backend and count.</summary>
    /// <param name="x">[count]</param>
    /// <param name="result">[1], overwritten</param>
    void SumOfSquares(Tensor<float> x, Tensor<float> result, int count);

    /// <summary>ema = decay·ema + (1 − decay)·parameters.</summary>
    void EmaUpdate(Tensor<float> parameters, Tensor<float> ema, int count, float decay);
}

/// <summary>AdamW hyper-parameters for one step.</summary>
/// <param name="LearningRate">lr of this step.</param>
/// <param name="Beta1">First-moment decay.</param>
/// <param name="Beta2">Second-moment decay.</param>
/// <param name="Epsilon">Added to the root of the second moment.</param>
/// <param name="WeightDecay">Decoupled weight decay (multiplied by lr).</param>
public readonly record struct AdamWParameters(float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f,
    float Epsilon = 1e-8f, float WeightDecay = 0f);
