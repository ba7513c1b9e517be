using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// LayerNorm without bias, over rows and (QK-norm) over heads. Device code: LayerNormKernels
// (Kernels/LayerNormKernels.cs); the weight gradients are column reductions (IlgpuKernels.Columns.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, int, int, float>? _layerNormForward;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormModulateArguments>? _layerNormModulateForward;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, int, int>? _layerNormBackwardInput;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>? _layerNormBackwardInputAndWeight;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int,
        float>? _qkNormForward;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, int, int, int>? _qkNormBackwardInput;
    private MemoryBuffer1D<float, Stride1D.Dense>? _qkNormProducts;

    /// <inheritdoc/>
    public void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd,
        int rows, int channels, float eps)
    {
        OpChecks.LayerNormForward(input, weight, output, mean, rstd, rows, channels, eps);
        HostChecks.Product(rows, channels);
        if (rows == 0) return;
        _layerNormForward ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int,
                int, float>>(_plan.WarpRowSums ? LayerNormKernels.ForwardWarpSums : LayerNormKernels.ForwardSharedSums));
        _layerNormForward(_stream, _plan.Normalization(rows), input.View(), weight.View(), output.View(), mean.View(), rstd.View(),
            rows, channels, eps);
    }

    /// <inheritdoc/>
    public void LayerNormModulateForward(Tensor<float> input, Tensor<float> weight, Tensor<float> shift, Tensor<float> scale,
        Tensor<float>? normalized, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd, int batch, int tokens, int channels,
        float eps)
    {
        OpChecks.LayerNormModulateForward(input, weight, shift, scale, normalized, output, mean, rstd, batch, tokens, channels, eps);
        int rows = batch * tokens;
        HostChecks.Product(rows, channels);
        if (rows == 0) return;
        _layerNormModulateForward ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormModulateArguments>>(_plan.WarpRowSums
                ? LayerNormKernels.ForwardModulatedWarpSums
                : LayerNormKernels.ForwardModulatedSharedSums));
        var outputView = output.View();
        _layerNormModulateForward(_stream, _plan.Normalization(rows), input.View(), weight.View(), shift.View(), scale.View(),
            normalized?.View() ?? outputView, outputView, mean.View(), rstd.View(),
            new LayerNormModulateArguments(rows, channels, tokens, eps, normalized is null ? 0 : 1));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Rows whose weight terms fit in <see cref="LaunchPlan.MaxSharedBytes"/> for at least one lane row per group take one pass
    /// for both gradients, each lane row summing the terms of <see cref="LaunchPlan.LayerNormRowsPerLanes"/> rows before a
    /// fixed-order sum of the groups' partials; longer rows take the input gradient, then a column reduction.
    /// </remarks>
    public void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean, Tensor<float> rstd,
        Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels)
    {
        OpChecks.LayerNormBackward(dOutput, input, weight, mean, rstd, dInput, dWeight, rows, channels);
        HostChecks.Product(rows, channels);
        if (rows == 0) return;
        int height = _plan.NormVectors;
        while (height > 1 && TermsBytes(height, channels) > LaunchPlan.MaxSharedBytes) height /= 2;
        if (TermsBytes(height, channels) <= LaunchPlan.MaxSharedBytes)
        {
            int groups = LaunchPlan.Ceil(rows, height * _plan.LayerNormRowsPerLanes);
            var partials = Scratch(ref _columnScratch, HostChecks.Product(groups, channels));
            _layerNormBackwardInputAndWeight ??= _accelerator.LoadCached(
                KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, int, int, int>>(_plan.WarpRowSums
                    ? LayerNormKernels.BackwardInputAndWeightWarpSums
                    : LayerNormKernels.BackwardInputAndWeightSharedSums));
            var config = _plan.Normalization(LaunchPlan.Ceil(rows, _plan.LayerNormRowsPerLanes), height, height * channels);
            _layerNormBackwardInputAndWeight(_stream, config, dOutput.View(), input.View(), weight.View(), mean.View(), rstd.View(),
                dInput.View(), partials, channels, rows, _plan.LayerNormRowsPerLanes);
            _sumChunks ??= _accelerator.LoadCachedAutoGrouped(
                KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>>(ColumnKernels.SumChunks));
            _sumChunks(_stream, channels, partials, dWeight.View(), groups, channels, 1);
            return;
        }
        _layerNormBackwardInput ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, int, int>>(_plan.WarpRowSums
                ? LayerNormKernels.BackwardInputWarpSums
                : LayerNormKernels.BackwardInputSharedSums));
        var dy = dOutput.View();
        var x = input.View();
        var mu = mean.View();
        var r = rstd.View();
        _layerNormBackwardInput(_stream, _plan.Normalization(rows), dy, x, weight.View(), mu, r, dInput.View(), rows, channels);
        ColumnReduce(ColumnTerm.XTimesNormalizedY, dy, x, mu, r, dWeight.View(), batch: 1, rows, channels);
    }

    /// <summary>Shared memory of a LayerNorm backward group of <paramref name="height"/> lane rows that sums weight terms.</summary>
    private long TermsBytes(int height, int channels) => ((long)_plan.NormLanes * height + (long)height * channels) * sizeof(float);

    /// <inheritdoc/>
    public void QkNormForward(Tensor<float> qkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        int rows, int heads, int headDim, float eps)
    {
        OpChecks.QkNormForward(qkv, weight, normalized, rstd, rows, heads, headDim, eps);
        int groups = HostChecks.Product(2, rows, heads);
        HostChecks.Product(3L * rows, heads, headDim);
        if (rows == 0) return;
        _qkNormForward ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int,
                float>>(_plan.WarpRowSums ? LayerNormKernels.QkForwardWarpSums : LayerNormKernels.QkForwardSharedSums));
        _qkNormForward(_stream, _plan.Normalization(groups), qkv.View(), weight.View(), normalized.View(), rstd.View(), rows, heads,
            headDim, eps);
    }

    /// <inheritdoc/>
    public void QkNormBackward(Tensor<float> dQkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        Tensor<float> dWeight, int rows, int heads, int headDim)
    {
        OpChecks.QkNormBackward(dQkv, weight, normalized, rstd, dWeight, rows, heads, headDim);
        int groups = HostChecks.Product(2, rows, heads);
        int length = HostChecks.Product(2L * rows, heads, headDim);
        if (rows == 0) return;
        _qkNormBackwardInput ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int,
                int, int>>(_plan.WarpRowSums ? LayerNormKernels.QkBackwardInputWarpSums : LayerNormKernels.QkBackwardInputSharedSums));
        var products = Scratch(ref _qkNormProducts, length);
        _qkNormBackwardInput(_stream, _plan.Normalization(groups), dQkv.View(), weight.View(), normalized.View(), rstd.View(), products,
            rows, heads, headDim);
        // dWeight[slot] += Σ over the rows·heads vectors of that slot: [2, rows·heads, headDim] summed over the middle axis
        ColumnReduce(ColumnTerm.X, products, products, products, products, dWeight.View(), batch: 2, rows * heads, headDim);
    }
}
