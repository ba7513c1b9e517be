using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Kernels;

public sealed partial class IlgpuKernels
{
    /// <inheritdoc/>
    public void Fill(Tensor<float> x, float value, int count) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void Copy(Tensor<float> source, Tensor<float> destination, int count) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd, int rows, int channels, float eps) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean, Tensor<float> rstd, Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void ModulateForward(Tensor<float> input, Tensor<float> shift, Tensor<float> scale, Tensor<float> output, int batch, int tokens, int channels) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void ModulateBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> scale, Tensor<float> dInput, Tensor<float> dShift, Tensor<float> dScale, int batch, int tokens, int channels) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void GatedResidualForward(Tensor<float> residual, Tensor<float> branch, Tensor<float> gate, Tensor<float> output, int batch, int tokens, int channels) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void GatedResidualBackward(Tensor<float> dOutput, Tensor<float> branch, Tensor<float> gate, Tensor<float> dBranch, Tensor<float> dGate, int batch, int tokens, int channels) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void GeluForward(Tensor<float> input, Tensor<float> output, int count) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void GeluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void SiluForward(Tensor<float> input, Tensor<float> output, int count) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void SiluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void DropoutForward(Tensor<float> input, Tensor<float> output, int count, float probability, ulong seed, ulong stream) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void DropoutBackward(Tensor<float> dOutput, Tensor<float> dInput, int count, float probability, ulong seed, ulong stream) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void AdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment, int count, in AdamWParameters hyper, int step, float gradScale) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void SumOfSquares(Tensor<float> x, Tensor<float> result, int count) => throw new NotSupportedException("pending");
    /// <inheritdoc/>
    public void EmaUpdate(Tensor<float> parameters, Tensor<float> ema, int count, float decay) => throw new NotSupportedException("pending");
}
