using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Rotary position embedding on q and k, in place. Device code: RotaryKernels (Kernels/RotaryKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, float>? _rotary;

    /// <inheritdoc/>
    public void RotaryForward(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset) =>
        Rotate(qkv, cos, sin, batch, tokens, heads, headDim, positionOffset, 1f);

    /// <inheritdoc/>
    public void RotaryBackward(Tensor<float> dQkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset) =>
        Rotate(dQkv, cos, sin, batch, tokens, heads, headDim, positionOffset, -1f);

    private void Rotate(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset, float direction)
    {
        OpChecks.Rotary(qkv, cos, sin, batch, tokens, heads, headDim, positionOffset);
        HostChecks.Product((long)batch * tokens, 3L * heads, headDim);
        HostChecks.Product(positionOffset + (long)tokens, headDim);
        int threads = HostChecks.Product(batch, tokens, heads * headDim); // 2·H·(d/2) per token
        if (threads == 0) return;
        _rotary ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, float>>(
                RotaryKernels.Rotate));
        _rotary(_stream, threads, qkv.View(), cos.View(), sin.View(), tokens, heads, headDim, positionOffset, direction);
    }
}
