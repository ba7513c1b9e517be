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
    /// <inheritdoc/>
    public void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int maskIndex) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses, Tensor<float>? dLogits, int rows, int classes, int maskIndex, float gradScale) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void DivergenceForwardBackward(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs, Tensor<float> values, Tensor<float>? dStudentLogits, int rows, int classes, int maskIndex, float gradScale) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int destinationRows) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void SampleCategorical(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void Argmax(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab) => throw new NotSupportedException("pending");
}
