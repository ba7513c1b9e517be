using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// LayerNorm without bias. Device code: LayerNormKernels (Kernels/LayerNormKernels.cs); the weight gradient
// is a column reduction (IlgpuKernels.Columns.cs).
internal sealed partial class IlgpuKernels
{
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, int, float>? _layerNormForward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, int>? _layerNormBackwardInput;

    /// <inheritdoc/>
    public void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd,
        int rows, int channels, float eps)
    {
        OpChecks.LayerNormForward(input, weight, output, mean, rstd, rows, channels, eps);
        HostChecks.Product(rows, channels);
        if (rows == 0) return;
        _layerNormForward ??= _accelerator.LoadStreamKernel(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, int, float>>(LayerNormKernels.Forward));
        _layerNormForward(_plan.Rows(rows), input.View(), weight.View(), output.View(), mean.View(), rstd.View(), channels, eps);
    }

    /// <inheritdoc/>
    public void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean, Tensor<float> rstd,
        Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels)
    {
        OpChecks.LayerNormBackward(dOutput, input, weight, mean, rstd, dInput, dWeight, rows, channels);
        HostChecks.Product(rows, channels);
        if (rows == 0) return;
        _layerNormBackwardInput ??= _accelerator.LoadStreamKernel(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, int>>(LayerNormKernels.BackwardInput));
        var dy = dOutput.View();
        var x = input.View();
        var mu = mean.View();
        var r = rstd.View();
        _layerNormBackwardInput(_plan.Rows(rows), dy, x, weight.View(), mu, r, dInput.View(), channels);
        ColumnReduce(ColumnTerm.XTimesNormalizedY, dy, x, mu, r, dWeight.View(), batch: 1, rows, channels);
    }
}
