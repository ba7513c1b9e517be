using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// AdamW, the sum of squares for gradient clipping and the EMA of parameters.
// Device code: OptimizerKernels (Kernels/OptimizerKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWConstants>?
        _adamW;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        AdamWConstants, ArrayView<float>, float, int>? _clippedAdamW;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, double>? _clipFactor;
    private MemoryBuffer1D<float, Stride1D.Dense>? _clipFactorScratch;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, float>? _ema;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int>? _sumOfSquaresPartials, _sumPartials;
    private MemoryBuffer1D<float, Stride1D.Dense>? _partials;

    /// <inheritdoc/>
    public void AdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment,
        int count, in AdamWParameters hyper, int step, float gradScale)
    {
        var constants = AdamW(parameters, gradients, firstMoment, secondMoment, count, hyper, step, gradScale);
        if (count == 0) return;
        _adamW ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWConstants>>(
                OptimizerKernels.AdamW));
        _adamW(_stream, count, parameters.View(), gradients.View(), firstMoment.View(), secondMoment.View(), constants);
    }

    /// <inheritdoc/>
    /// <remarks>One thread computes the factor into a scratch float (NaN: no update); the update reads it.</remarks>
    public void ClippedAdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment,
        Tensor<float> secondMoment, int count, in AdamWParameters hyper, int step, Tensor<float> sumOfSquares, double maxNorm,
        Tensor<float>? ema = null, float emaDecay = 0f)
    {
        Check.Count(sumOfSquares, 1, nameof(sumOfSquares));
        Check.Count(ema, count, nameof(ema));
        var constants = AdamW(parameters, gradients, firstMoment, secondMoment, count, hyper, step, gradScale: 1f);
        if (count == 0) return;
        var factor = Scratch(ref _clipFactorScratch, 1);
        _clipFactor ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, double>>(OptimizerKernels.ClipFactor));
        _clipFactor(_stream, 1, sumOfSquares.View(), factor, maxNorm);
        _clippedAdamW ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, AdamWConstants, ArrayView<float>, float, int>>(OptimizerKernels.ClippedAdamW));
        var parameterView = parameters.View();
        _clippedAdamW(_stream, count, parameterView, gradients.View(), firstMoment.View(), secondMoment.View(), factor, constants,
            ema?.View() ?? parameterView, emaDecay, ema is null ? 0 : 1);
    }

    /// <summary>Checks an AdamW step's shapes and step; its constants (bias corrections in double).</summary>
    private static AdamWConstants AdamW(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment,
        Tensor<float> secondMoment, int count, in AdamWParameters hyper, int step, float gradScale)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), $"AdamW steps start at 1; got {step}.");
        Check.Count(parameters, count, nameof(parameters));
        Check.Count(gradients, count, nameof(gradients));
        Check.Count(firstMoment, count, nameof(firstMoment));
        Check.Count(secondMoment, count, nameof(secondMoment));
        return new AdamWConstants(hyper.LearningRate, hyper.Beta1, hyper.Beta2, hyper.Epsilon, hyper.WeightDecay,
            (float)(1 - Math.Pow(hyper.Beta1, step)), (float)(1 - Math.Pow(hyper.Beta2, step)), gradScale);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Two passes with fixed shapes: ⌈count/RowGroup⌉ groups, at most MaxPartials, each
    /// tree-reduce their grid-strided squares into a partial; one group then tree-reduces the
    /// partials. The partial buffer is allocated once, on first use.
    /// </remarks>
    public void SumOfSquares(Tensor<float> x, Tensor<float> result, int count)
    {
        Check.Count(x, count, nameof(x));
        Check.Count(result, 1, nameof(result));
        int groups = Math.Clamp(LaunchPlan.Ceil(count, _plan.RowGroup), 1, _plan.MaxPartials);
        _partials ??= _accelerator.Allocate1D<float>(_plan.MaxPartials);
        _sumOfSquaresPartials ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, int>>(OptimizerKernels.SumOfSquaresPartials));
        _sumPartials ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, int>>(OptimizerKernels.SumPartials));
        var partials = _partials.View.AsContiguous();
        _sumOfSquaresPartials(_stream, new KernelConfig(groups, _plan.RowGroup, _plan.RowShared), x.View(), partials, count);
        _sumPartials(_stream, new KernelConfig(1, _plan.RowGroup, _plan.RowShared), partials, result.View(), groups);
    }

    /// <inheritdoc/>
    public void EmaUpdate(Tensor<float> parameters, Tensor<float> ema, int count, float decay)
    {
        Check.Count(parameters, count, nameof(parameters));
        Check.Count(ema, count, nameof(ema));
        if (count == 0) return;
        _ema ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, float>>(OptimizerKernels.Ema));
        _ema(_stream, count, parameters.View(), ema.View(), decay);
    }
}
