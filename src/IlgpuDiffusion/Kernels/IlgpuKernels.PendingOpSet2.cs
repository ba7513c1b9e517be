using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Kernels;

public sealed partial class IlgpuKernels
{
    /// <inheritdoc/>
    public void RotaryForward(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin, int batch, int tokens, int heads, int headDim, int positionOffset) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void RotaryBackward(Tensor<float> dQkv, Tensor<float> cos, Tensor<float> sin, int batch, int tokens, int heads, int headDim, int positionOffset) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void AttentionForward(Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp, int batch, int tokens, int heads, int headDim, bool causal) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void AttentionBackward(Tensor<float> dOutput, Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp, Tensor<float> dQkv, int batch, int tokens, int heads, int headDim, bool causal) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void AttentionWithCacheForward(Tensor<float> qkv, Tensor<float> kCache, Tensor<float> vCache, Tensor<float> output, int batch, int newTokens, int heads, int headDim, int position, int capacity) => throw new NotSupportedException("pending");
}
