namespace IlgpuDiffusion.Compute;

/// <summary>
/// The op set every <see cref="Device"/> hands out: the backend's kernels, with each call timed while a
/// <see cref="KernelProfile"/> of the device is running (the call between two device synchronizations, so that it is
/// attributed its own time; the synchronizations remove the overlap a GPU would otherwise have). Without a profile a
/// call goes straight to the backend. Ops in the order of the IKernels files.
/// </summary>
internal sealed class ProfilingKernels(Device device, IKernels backend) : IKernels
{
    /// <summary>The op names, indexed as the profile records them, with their op families.</summary>
    public static readonly (string Op, string Family)[] Ops =
    [
        ("GeluForward", "Activations"),
        ("GeluBackward", "Activations"),
        ("SiluForward", "Activations"),
        ("SiluBackward", "Activations"),
        ("AttentionForward", "Attention"),
        ("AttentionBackward", "Attention"),
        ("AttentionWithCacheForward", "Attention"),
        ("CrossEntropy", "CrossEntropy"),
        ("DivergenceForwardBackward", "Divergence"),
        ("DropoutForward", "Dropout"),
        ("DropoutBackward", "Dropout"),
        ("EmbeddingForward", "Embedding"),
        ("EmbeddingBackward", "Embedding"),
        ("LayerNormForward", "LayerNorm"),
        ("LayerNormBackward", "LayerNorm"),
        ("QkNormForward", "LayerNorm"),
        ("QkNormBackward", "LayerNorm"),
        ("SubsLogSoftmax", "Losses"),
        ("SubsCrossEntropy", "Losses"),
        ("MatMul", "MatMul"),
        ("LinearForward", "MatMul"),
        ("LinearBackward", "MatMul"),
        ("ModulateForward", "Modulation"),
        ("ModulateBackward", "Modulation"),
        ("GatedResidualForward", "Modulation"),
        ("GatedResidualBackward", "Modulation"),
        ("AdamWStep", "Optimizer"),
        ("SumOfSquares", "Optimizer"),
        ("EmaUpdate", "Optimizer"),
        ("RotaryForward", "Rotary"),
        ("RotaryBackward", "Rotary"),
        ("GatherRows", "Rows"),
        ("ScatterAddRows", "Rows"),
        ("SampleCategorical", "Sampling"),
        ("Argmax", "Sampling"),
        ("KeepTopK", "TopK"),
        ("Fill", "Utility"),
        ("Copy", "Utility"),
    ];

    /// <summary>The backend's kernels.</summary>
    public IKernels Backend => backend;

    /// <inheritdoc/>
    public void GeluForward(Tensor<float> input, Tensor<float> output, int count)
    {
        long start = device.StartTiming();
        backend.GeluForward(input, output, count);
        device.EndTiming(0, start);
    }

    /// <inheritdoc/>
    public void GeluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count)
    {
        long start = device.StartTiming();
        backend.GeluBackward(dOutput, input, dInput, count);
        device.EndTiming(1, start);
    }

    /// <inheritdoc/>
    public void SiluForward(Tensor<float> input, Tensor<float> output, int count)
    {
        long start = device.StartTiming();
        backend.SiluForward(input, output, count);
        device.EndTiming(2, start);
    }

    /// <inheritdoc/>
    public void SiluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count)
    {
        long start = device.StartTiming();
        backend.SiluBackward(dOutput, input, dInput, count);
        device.EndTiming(3, start);
    }

    /// <inheritdoc/>
    public void AttentionForward(Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp, int batch, int tokens, int heads,
        int headDim, bool causal)
    {
        long start = device.StartTiming();
        backend.AttentionForward(qkv, output, logSumExp, batch, tokens, heads, headDim, causal);
        device.EndTiming(4, start);
    }

    /// <inheritdoc/>
    public void AttentionBackward(Tensor<float> dOutput, Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp,
        Tensor<float> dQkv, int batch, int tokens, int heads, int headDim, bool causal)
    {
        long start = device.StartTiming();
        backend.AttentionBackward(dOutput, qkv, output, logSumExp, dQkv, batch, tokens, heads, headDim, causal);
        device.EndTiming(5, start);
    }

    /// <inheritdoc/>
    public void AttentionWithCacheForward(Tensor<float> qkv, Tensor<float> kCache, Tensor<float> vCache, Tensor<float> output, int batch,
        int newTokens, int heads, int headDim, int position, int capacity)
    {
        long start = device.StartTiming();
        backend.AttentionWithCacheForward(qkv, kCache, vCache, output, batch, newTokens, heads, headDim, position, capacity);
        device.EndTiming(6, start);
    }

    /// <inheritdoc/>
    public void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, float gradScale)
    {
        long start = device.StartTiming();
        backend.CrossEntropy(logits, targets, weights, losses, dLogits, rows, classes, gradScale);
        device.EndTiming(7, start);
    }

    /// <inheritdoc/>
    public void DivergenceForwardBackward(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs,
        Tensor<float> values, Tensor<float>? dStudentLogits, int rows, int classes, int maskIndex, float gradScale)
    {
        long start = device.StartTiming();
        backend.DivergenceForwardBackward(divergence, studentLogits, teacherLogProbs, values, dStudentLogits, rows, classes, maskIndex,
            gradScale);
        device.EndTiming(8, start);
    }

    /// <inheritdoc/>
    public void DropoutForward(Tensor<float> input, Tensor<float> output, int count, float probability, ulong seed, ulong stream)
    {
        long start = device.StartTiming();
        backend.DropoutForward(input, output, count, probability, seed, stream);
        device.EndTiming(9, start);
    }

    /// <inheritdoc/>
    public void DropoutBackward(Tensor<float> dOutput, Tensor<float> dInput, int count, float probability, ulong seed, ulong stream)
    {
        long start = device.StartTiming();
        backend.DropoutBackward(dOutput, dInput, count, probability, seed, stream);
        device.EndTiming(10, start);
    }

    /// <inheritdoc/>
    public void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels)
    {
        long start = device.StartTiming();
        backend.EmbeddingForward(ids, table, output, rows, vocab, channels);
        device.EndTiming(11, start);
    }

    /// <inheritdoc/>
    public void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels)
    {
        long start = device.StartTiming();
        backend.EmbeddingBackward(ids, dOutput, dTable, rows, vocab, channels);
        device.EndTiming(12, start);
    }

    /// <inheritdoc/>
    public void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd,
        int rows, int channels, float eps)
    {
        long start = device.StartTiming();
        backend.LayerNormForward(input, weight, output, mean, rstd, rows, channels, eps);
        device.EndTiming(13, start);
    }

    /// <inheritdoc/>
    public void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean,
        Tensor<float> rstd, Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels)
    {
        long start = device.StartTiming();
        backend.LayerNormBackward(dOutput, input, weight, mean, rstd, dInput, dWeight, rows, channels);
        device.EndTiming(14, start);
    }

    /// <inheritdoc/>
    public void QkNormForward(Tensor<float> qkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        int rows, int heads, int headDim, float eps)
    {
        long start = device.StartTiming();
        backend.QkNormForward(qkv, weight, normalized, rstd, rows, heads, headDim, eps);
        device.EndTiming(15, start);
    }

    /// <inheritdoc/>
    public void QkNormBackward(Tensor<float> dQkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        Tensor<float> dWeight, int rows, int heads, int headDim)
    {
        long start = device.StartTiming();
        backend.QkNormBackward(dQkv, weight, normalized, rstd, dWeight, rows, heads, headDim);
        device.EndTiming(16, start);
    }

    /// <inheritdoc/>
    public void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int maskIndex)
    {
        long start = device.StartTiming();
        backend.SubsLogSoftmax(logits, logProbs, rows, classes, maskIndex);
        device.EndTiming(17, start);
    }

    /// <inheritdoc/>
    public void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int maskIndex, float gradScale)
    {
        long start = device.StartTiming();
        backend.SubsCrossEntropy(logits, targets, weights, losses, dLogits, rows, classes, maskIndex, gradScale);
        device.EndTiming(18, start);
    }

    /// <inheritdoc/>
    public void MatMul(MatMulLayout layout, Tensor<float> a, Tensor<float> b, Tensor<float> c, int m, int n, int k, bool accumulate)
    {
        long start = device.StartTiming();
        backend.MatMul(layout, a, b, c, m, n, k, accumulate);
        device.EndTiming(19, start);
    }

    /// <inheritdoc/>
    public void LinearForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float> output, int rows,
        int inChannels, int outChannels)
    {
        long start = device.StartTiming();
        backend.LinearForward(input, weight, bias, output, rows, inChannels, outChannels);
        device.EndTiming(20, start);
    }

    /// <inheritdoc/>
    public void LinearBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float>? dInput,
        Tensor<float>? dWeight, Tensor<float>? dBias, int rows, int inChannels, int outChannels)
    {
        long start = device.StartTiming();
        backend.LinearBackward(dOutput, input, weight, dInput, dWeight, dBias, rows, inChannels, outChannels);
        device.EndTiming(21, start);
    }

    /// <inheritdoc/>
    public void ModulateForward(Tensor<float> input, Tensor<float> shift, Tensor<float> scale, Tensor<float> output, int batch,
        int tokens, int channels)
    {
        long start = device.StartTiming();
        backend.ModulateForward(input, shift, scale, output, batch, tokens, channels);
        device.EndTiming(22, start);
    }

    /// <inheritdoc/>
    public void ModulateBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> scale, Tensor<float> dInput,
        Tensor<float> dShift, Tensor<float> dScale, int batch, int tokens, int channels)
    {
        long start = device.StartTiming();
        backend.ModulateBackward(dOutput, input, scale, dInput, dShift, dScale, batch, tokens, channels);
        device.EndTiming(23, start);
    }

    /// <inheritdoc/>
    public void GatedResidualForward(Tensor<float> residual, Tensor<float> branch, Tensor<float> gate, Tensor<float> output, int batch,
        int tokens, int channels)
    {
        long start = device.StartTiming();
        backend.GatedResidualForward(residual, branch, gate, output, batch, tokens, channels);
        device.EndTiming(24, start);
    }

    /// <inheritdoc/>
    public void GatedResidualBackward(Tensor<float> dOutput, Tensor<float> branch, Tensor<float> gate, Tensor<float> dBranch,
        Tensor<float> dGate, int batch, int tokens, int channels)
    {
        long start = device.StartTiming();
        backend.GatedResidualBackward(dOutput, branch, gate, dBranch, dGate, batch, tokens, channels);
        device.EndTiming(25, start);
    }

    /// <inheritdoc/>
    public void AdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment,
        int count, in AdamWParameters hyper, int step, float gradScale)
    {
        long start = device.StartTiming();
        backend.AdamWStep(parameters, gradients, firstMoment, secondMoment, count, in hyper, step, gradScale);
        device.EndTiming(26, start);
    }

    /// <inheritdoc/>
    public void SumOfSquares(Tensor<float> x, Tensor<float> result, int count)
    {
        long start = device.StartTiming();
        backend.SumOfSquares(x, result, count);
        device.EndTiming(27, start);
    }

    /// <inheritdoc/>
    public void EmaUpdate(Tensor<float> parameters, Tensor<float> ema, int count, float decay)
    {
        long start = device.StartTiming();
        backend.EmaUpdate(parameters, ema, count, decay);
        device.EndTiming(28, start);
    }

    /// <inheritdoc/>
    public void RotaryForward(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin, int batch, int tokens, int heads, int headDim,
        int positionOffset)
    {
        long start = device.StartTiming();
        backend.RotaryForward(qkv, cos, sin, batch, tokens, heads, headDim, positionOffset);
        device.EndTiming(29, start);
    }

    /// <inheritdoc/>
    public void RotaryBackward(Tensor<float> dQkv, Tensor<float> cos, Tensor<float> sin, int batch, int tokens, int heads, int headDim,
        int positionOffset)
    {
        long start = device.StartTiming();
        backend.RotaryBackward(dQkv, cos, sin, batch, tokens, heads, headDim, positionOffset);
        device.EndTiming(30, start);
    }

    /// <inheritdoc/>
    public void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows)
    {
        long start = device.StartTiming();
        backend.GatherRows(source, indices, destination, rows, channels, sourceRows);
        device.EndTiming(31, start);
    }

    /// <inheritdoc/>
    public void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels,
        int destinationRows)
    {
        long start = device.StartTiming();
        backend.ScatterAddRows(source, indices, destination, rows, channels, destinationRows);
        device.EndTiming(32, start);
    }

    /// <inheritdoc/>
    public void SampleCategorical(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters)
    {
        long start = device.StartTiming();
        backend.SampleCategorical(logits, ids, rows, classes, vocab, in parameters);
        device.EndTiming(33, start);
    }

    /// <inheritdoc/>
    public void Argmax(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab)
    {
        long start = device.StartTiming();
        backend.Argmax(logits, ids, rows, classes, vocab);
        device.EndTiming(34, start);
    }

    /// <inheritdoc/>
    public void KeepTopK(Tensor<float> logits, int rows, int classes, int vocab, int k)
    {
        long start = device.StartTiming();
        backend.KeepTopK(logits, rows, classes, vocab, k);
        device.EndTiming(35, start);
    }

    /// <inheritdoc/>
    public void Fill(Tensor<float> x, float value, int count)
    {
        long start = device.StartTiming();
        backend.Fill(x, value, count);
        device.EndTiming(36, start);
    }

    /// <inheritdoc/>
    public void Copy(Tensor<float> source, Tensor<float> destination, int count)
    {
        long start = device.StartTiming();
        backend.Copy(source, destination, count);
        device.EndTiming(37, start);
    }
}
