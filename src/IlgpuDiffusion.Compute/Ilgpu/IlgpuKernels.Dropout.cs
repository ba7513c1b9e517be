using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Dropout with a Philox mask regenerated in backward. Device code: DropoutKernels (Kernels/DropoutKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, float, float, ulong, ulong>? _dropoutForward;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, float, float, ulong, ulong, int>? _dropoutBackward;

    /// <inheritdoc/>
    public void DropoutForward(Tensor<float> input, Tensor<float> output, int count, float probability, ulong seed, ulong stream)
    {
        float scale = DropoutScale(probability);
        Check.Count(input, count, nameof(input));
        Check.Count(output, count, nameof(output));
        if (count == 0) return;
        _dropoutForward ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, float, float, ulong, ulong>>(
                DropoutKernels.Forward));
        _dropoutForward(_stream, count, input.View(), output.View(), probability, scale, seed, stream);
    }

    /// <inheritdoc/>
    public void DropoutBackward(Tensor<float> dOutput, Tensor<float> dInput, int count, float probability, ulong seed, ulong stream,
        bool accumulate = true)
    {
        float scale = DropoutScale(probability);
        Check.Count(dOutput, count, nameof(dOutput));
        Check.Count(dInput, count, nameof(dInput));
        if (count == 0) return;
        _dropoutBackward ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, float, float, ulong, ulong, int>>(
                DropoutKernels.Backward));
        _dropoutBackward(_stream, count, dOutput.View(), dInput.View(), probability, scale, seed, stream, accumulate ? 1 : 0);
    }

    /// <summary>1/(1−p) after checking p ∈ [0, 1).</summary>
    private static float DropoutScale(float probability)
    {
        Check.Probability(probability, nameof(probability));
        return 1f / (1f - probability);
    }
}
