using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>One AdamW step's constants, computed on the host (bias corrections in double).</summary>
internal readonly record struct AdamWConstants(
    float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay,
    float BiasCorrection1, float BiasCorrection2, float GradScale);

/// <summary>AdamW, EMA and the deterministic two-pass sum of squares (gradient norm).</summary>
internal static class OptimizerKernels
{
    /// <summary>
    /// PyTorch AdamW on element i: p −= lr·wd·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
    /// p −= lr·(m/bc1)/(√(v/bc2) + eps), with g = gradient·gradScale.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void AdamW(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients,
        ArrayView<float> firstMoment, ArrayView<float> secondMoment, AdamWConstants k) =>
        Update(i, parameters, gradients, firstMoment, secondMoment, k, k.GradScale);

    /// <summary>
    /// factor[0] = min(1, maxNorm/(√sumOfSquares[0] + 1e-6)) in double (1 when maxNorm ≤ 0), NaN when the sum is not finite:
    /// <c>GradientClipping.Factor</c> on the device. One thread.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void ClipFactor(Index1D i, ArrayView<float> sumOfSquares, ArrayView<float> factor, double maxNorm)
    {
        float sum = sumOfSquares[0];
        bool finite = !float.IsNaN(sum) && !float.IsInfinity(sum);
        double clipped = maxNorm / (Math.Sqrt(sum) + 1e-6);
        factor[0] = !finite ? float.NaN : maxNorm > 0 ? (float)(clipped < 1 ? clipped : 1) : 1f;
    }

    /// <summary>
    /// <see cref="AdamW"/> with the gradient scale factor[0] (<see cref="ClipFactor"/>); no update where it is NaN. With
    /// <paramref name="hasEma"/> ≠ 0 the new parameter also goes into its moving average, as <see cref="Ema"/> computes it.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void ClippedAdamW(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients,
        ArrayView<float> firstMoment, ArrayView<float> secondMoment, ArrayView<float> factor, AdamWConstants k, ArrayView<float> ema,
        float emaDecay, int hasEma)
    {
        float scale = factor[0];
        if (float.IsNaN(scale)) return;
        float updated = Update(i, parameters, gradients, firstMoment, secondMoment, k, scale);
        if (hasEma != 0) ema[i] = Average(ema[i], updated, emaDecay);
    }

    /// <summary>Updates element i; returns the new parameter.</summary>
    private static float Update(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, in AdamWConstants k, float gradScale)
    {
        float g = gradients[i] * gradScale;
        float p = parameters[i];
        p -= k.LearningRate * k.WeightDecay * p;
        float m = k.Beta1 * firstMoment[i] + (1f - k.Beta1) * g;
        float v = k.Beta2 * secondMoment[i] + (1f - k.Beta2) * g * g;
        firstMoment[i] = m;
        secondMoment[i] = v;
        float updated = p - k.LearningRate * (m / k.BiasCorrection1) / (MathF.Sqrt(v / k.BiasCorrection2) + k.Epsilon);
        parameters[i] = updated;
        return updated;
    }

    /// <summary>ema = decay·ema + (1 − decay)·parameters.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Ema(Index1D i, ArrayView<float> parameters, ArrayView<float> ema, float decay) =>
        ema[i] = Average(ema[i], parameters[i], decay);

    private static float Average(float ema, float parameter, float decay) => decay * ema + (1f - decay) * parameter;

    /// <summary>
    /// Pass 1: group g sums x[j]² over j ≡ g·DimX + t (mod GridDim·DimX) per thread t, then
    /// a shared-memory tree; partials[g] = that group's sum. Shared memory DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void SumOfSquaresPartials(ArrayView<float> x, ArrayView<float> partials, int count)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int stride = Grid.DimX * Group.DimX;
        float sum = 0f;
        for (int j = Grid.IdxX * Group.DimX + Group.IdxX; j < count; j += stride)
        {
            float value = x[j];
            sum += value * value;
        }
        float total = GroupReductions.Sum(shared, sum);
        if (Group.IdxX == 0) partials[Grid.IdxX] = total;
    }

    /// <summary>Pass 2 (one group): result[0] = Σ partials[0..partialCount) by the same fixed tree.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void SumPartials(ArrayView<float> partials, ArrayView<float> result, int partialCount)
    {
        var shared = SharedMemory.GetDynamic<float>();
        float sum = 0f;
        for (int j = Group.IdxX; j < partialCount; j += Group.DimX) sum += partials[j];
        float total = GroupReductions.Sum(shared, sum);
        if (Group.IdxX == 0) result[0] = total;
    }
}
