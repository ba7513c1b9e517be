using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// GELU and SiLU, forward and backward. Device code: ActivationKernels (Kernels/ActivationKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>>? _geluForward, _siluForward;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>? _geluBackward, _siluBackward;

    /// <inheritdoc/>
    public void GeluForward(Tensor<float> input, Tensor<float> output, int count) =>
        Unary(ref _geluForward, ActivationKernels.GeluForward, input, output, count);

    /// <inheritdoc/>
    public void GeluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate = true) =>
        UnaryBackward(ref _geluBackward, ActivationKernels.GeluBackward, dOutput, input, dInput, count, accumulate);

    /// <inheritdoc/>
    public void SiluForward(Tensor<float> input, Tensor<float> output, int count) =>
        Unary(ref _siluForward, ActivationKernels.SiluForward, input, output, count);

    /// <inheritdoc/>
    public void SiluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate = true) =>
        UnaryBackward(ref _siluBackward, ActivationKernels.SiluBackward, dOutput, input, dInput, count, accumulate);

    private void Unary(ref Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>>? loaded,
        Action<Index1D, ArrayView<float>, ArrayView<float>> kernel, Tensor<float> input, Tensor<float> output, int count)
    {
        Check.Count(input, count, nameof(input));
        Check.Count(output, count, nameof(output));
        if (count == 0) return;
        loaded ??= _accelerator.LoadCachedAutoGrouped(KernelRegistry.Checked(kernel));
        loaded(_stream, count, input.View(), output.View());
    }

    private void UnaryBackward(ref Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>? loaded,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> kernel,
        Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate)
    {
        Check.Count(dOutput, count, nameof(dOutput));
        Check.Count(input, count, nameof(input));
        Check.Count(dInput, count, nameof(dInput));
        if (count == 0) return;
        loaded ??= _accelerator.LoadCachedAutoGrouped(KernelRegistry.Checked(kernel));
        loaded(_stream, count, dOutput.View(), input.View(), dInput.View(), accumulate ? 1 : 0);
    }
}
