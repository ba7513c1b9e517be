using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

public sealed partial class CpuKernels
{
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
