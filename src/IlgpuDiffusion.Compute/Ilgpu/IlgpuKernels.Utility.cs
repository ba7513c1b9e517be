using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Fill and Copy. Device code: UtilityKernels (Kernels/UtilityKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<float>, float>? _fill;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>>? _copy;

    /// <inheritdoc/>
    public void Fill(Tensor<float> x, float value, int count)
    {
        Check.Count(x, count, nameof(x));
        if (count == 0) return;
        _fill ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, float>>(UtilityKernels.Fill));
        _fill(_stream, count, x.View(), value);
    }

    /// <inheritdoc/>
    public void Copy(Tensor<float> source, Tensor<float> destination, int count)
    {
        Check.Count(source, count, nameof(source));
        Check.Count(destination, count, nameof(destination));
        if (count == 0) return;
        _copy ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>>>(UtilityKernels.Copy));
        _copy(_stream, count, source.View(), destination.View());
    }
}
