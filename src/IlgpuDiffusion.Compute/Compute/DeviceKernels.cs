namespace IlgpuDiffusion.Compute;

/// <summary>
/// The op set every <see cref="Device"/> hands out: the backend's kernels, one call at a time per device (each call holds
/// the device's lock, see <see cref="Device.Kernels"/>), each call timed while a <see cref="KernelProfile"/> of the device
/// is running (by the profile's <see cref="OpClock"/>: events on the device's stream around the call, or two
/// synchronizations). Ops in the order of the IKernels files.
/// </summary>
internal sealed class DeviceKernels(Device device, IKernels backend) : IKernels
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
        ("LayerNormModulateForward", "LayerNorm"),
        ("LayerNormBackward", "LayerNorm"),
        ("QkNormForward", "LayerNorm"),
        ("QkNormBackward", "LayerNorm"),
        ("SubsLogSoftmax", "Losses"),
        ("SubsCrossEntropy", "Losses"),
        ("MatMul", "MatMul"),
        ("LinearForward", "MatMul"),
        ("LinearGeluForward", "MatMul"),
        ("LinearBackward", "MatMul"),
        ("GeluLinearBackward", "MatMul"),
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
        ("ScatterIds", "Sampling"),
        ("KeepTopK", "TopK"),
        ("Fill", "Utility"),
        ("Copy", "Utility"),
    ];

    /// <summary>The backend's kernels.</summary>
    public IKernels Backend => backend;

    /// <inheritdoc/>
    public void GeluForward(Tensor<float> input, Tensor<float> output, int count)
    {
        using var op = device.BeginOp(0);
        backend.GeluForward(input, output, count);
    }

    /// <inheritdoc/>
    public void GeluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate = true)
    {
        using var op = device.BeginOp(1);
        backend.GeluBackward(dOutput, input, dInput, count, accumulate);
    }

    /// <inheritdoc/>
    public void SiluForward(Tensor<float> input, Tensor<float> output, int count)
    {
        using var op = device.BeginOp(2);
        backend.SiluForward(input, output, count);
    }

    /// <inheritdoc/>
    public void SiluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate = true)
    {
        using var op = device.BeginOp(3);
        backend.SiluBackward(dOutput, input, dInput, count, accumulate);
    }

    /// <inheritdoc/>
    public void AttentionForward(Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp, int batch, int tokens, int heads,
        int headDim, bool causal)
    {
        using var op = device.BeginOp(4);
        backend.AttentionForward(qkv, output, logSumExp, batch, tokens, heads, headDim, causal);
    }

    /// <inheritdoc/>
    public void AttentionBackward(Tensor<float> dOutput, Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp,
        Tensor<float> dQkv, int batch, int tokens, int heads, int headDim, bool causal, bool accumulate = true)
    {
        using var op = device.BeginOp(5);
        backend.AttentionBackward(dOutput, qkv, output, logSumExp, dQkv, batch, tokens, heads, headDim, causal, accumulate);
    }

    /// <inheritdoc/>
    public void AttentionWithCacheForward(Tensor<float> qkv, Tensor<float> kCache, Tensor<float> vCache, Tensor<float> output, int batch,
        int newTokens, int heads, int headDim, int position, int capacity)
    {
        using var op = device.BeginOp(6);
        backend.AttentionWithCacheForward(qkv, kCache, vCache, output, batch, newTokens, heads, headDim, position, capacity);
    }

    /// <inheritdoc/>
    public void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, float gradScale)
    {
        using var op = device.BeginOp(7);
        backend.CrossEntropy(logits, targets, weights, losses, dLogits, rows, classes, vocab, gradScale);
    }

    /// <inheritdoc/>
    public void DivergenceForwardBackward(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs,
        Tensor<float> values, Tensor<float>? dStudentLogits, int rows, int classes, int vocab, int maskIndex, float gradScale)
    {
        using var op = device.BeginOp(8);
        backend.DivergenceForwardBackward(divergence, studentLogits, teacherLogProbs, values, dStudentLogits, rows, classes, vocab,
            maskIndex, gradScale);
    }

    /// <inheritdoc/>
    public void DropoutForward(Tensor<float> input, Tensor<float> output, int count, float probability, ulong seed, ulong stream)
    {
        using var op = device.BeginOp(9);
        backend.DropoutForward(input, output, count, probability, seed, stream);
    }

    /// <inheritdoc/>
    public void DropoutBackward(Tensor<float> dOutput, Tensor<float> dInput, int count, float probability, ulong seed, ulong stream,
        bool accumulate = true)
    {
        using var op = device.BeginOp(10);
        backend.DropoutBackward(dOutput, dInput, count, probability, seed, stream, accumulate);
    }

    /// <inheritdoc/>
    public void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels)
    {
        using var op = device.BeginOp(11);
        backend.EmbeddingForward(ids, table, output, rows, vocab, channels);
    }

    /// <inheritdoc/>
    public void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels)
    {
        using var op = device.BeginOp(12);
        backend.EmbeddingBackward(ids, dOutput, dTable, rows, vocab, channels);
    }

    /// <inheritdoc/>
    public void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd,
        int rows, int channels, float eps)
    {
        using var op = device.BeginOp(13);
        backend.LayerNormForward(input, weight, output, mean, rstd, rows, channels, eps);
    }

    /// <inheritdoc/>
    public void LayerNormModulateForward(Tensor<float> input, Tensor<float> weight, Tensor<float> shift, Tensor<float> scale,
        Tensor<float>? normalized, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd, int batch, int tokens, int channels,
        float eps)
    {
        using var op = device.BeginOp(14);
        backend.LayerNormModulateForward(input, weight, shift, scale, normalized, output, mean, rstd, batch, tokens, channels, eps);
    }

    /// <inheritdoc/>
    public void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean,
        Tensor<float> rstd, Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels)
    {
        using var op = device.BeginOp(15);
        backend.LayerNormBackward(dOutput, input, weight, mean, rstd, dInput, dWeight, rows, channels);
    }

    /// <inheritdoc/>
    public void QkNormForward(Tensor<float> qkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        int rows, int heads, int headDim, float eps)
    {
        using var op = device.BeginOp(16);
        backend.QkNormForward(qkv, weight, normalized, rstd, rows, heads, headDim, eps);
    }

    /// <inheritdoc/>
    public void QkNormBackward(Tensor<float> dQkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        Tensor<float> dWeight, int rows, int heads, int headDim)
    {
        using var op = device.BeginOp(17);
        backend.QkNormBackward(dQkv, weight, normalized, rstd, dWeight, rows, heads, headDim);
    }

    /// <inheritdoc/>
    public void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int vocab, int maskIndex)
    {
        using var op = device.BeginOp(18);
        backend.SubsLogSoftmax(logits, logProbs, rows, classes, vocab, maskIndex);
    }

    /// <inheritdoc/>
    public void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, int maskIndex, float gradScale)
    {
        using var op = device.BeginOp(19);
        backend.SubsCrossEntropy(logits, targets, weights, losses, dLogits, rows, classes, vocab, maskIndex, gradScale);
    }

    /// <inheritdoc/>
    public void MatMul(MatMulLayout layout, Tensor<float> a, Tensor<float> b, Tensor<float> c, int m, int n, int k, bool accumulate)
    {
        using var op = device.BeginOp(20);
        backend.MatMul(layout, a, b, c, m, n, k, accumulate);
    }

    /// <inheritdoc/>
    public long InputCopyLength(int rows, int channels) => backend.InputCopyLength(rows, channels);

    /// <inheritdoc/>
    public void LinearForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float> output, int rows,
        int inChannels, int outChannels, Tensor<float>? inputCopy = null, bool inputCopyMade = false)
    {
        using var op = device.BeginOp(21);
        backend.LinearForward(input, weight, bias, output, rows, inChannels, outChannels, inputCopy, inputCopyMade);
    }

    /// <inheritdoc/>
    public void LinearGeluForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float>? preActivation,
        Tensor<float> activation, int rows, int inChannels, int outChannels, Tensor<float>? inputCopy = null,
        Tensor<float>? activationCopy = null)
    {
        using var op = device.BeginOp(22);
        backend.LinearGeluForward(input, weight, bias, preActivation, activation, rows, inChannels, outChannels, inputCopy,
            activationCopy);
    }

    /// <inheritdoc/>
    public void LinearBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float>? dInput,
        Tensor<float>? dWeight, Tensor<float>? dBias, int rows, int inChannels, int outChannels, bool accumulateInput = true,
        Tensor<float>? inputCopy = null)
    {
        using var op = device.BeginOp(23);
        backend.LinearBackward(dOutput, input, weight, dInput, dWeight, dBias, rows, inChannels, outChannels, accumulateInput,
            inputCopy);
    }

    /// <inheritdoc/>
    public void GeluLinearBackward(Tensor<float> dOutput, Tensor<float> activation, Tensor<float> preActivation, Tensor<float> weight,
        Tensor<float> dPreActivation, Tensor<float>? dWeight, Tensor<float>? dBias, int rows, int inChannels, int outChannels,
        Tensor<float>? activationCopy = null)
    {
        using var op = device.BeginOp(24);
        backend.GeluLinearBackward(dOutput, activation, preActivation, weight, dPreActivation, dWeight, dBias, rows, inChannels,
            outChannels, activationCopy);
    }

    /// <inheritdoc/>
    public void ModulateForward(Tensor<float> input, Tensor<float> shift, Tensor<float> scale, Tensor<float> output, int batch,
        int tokens, int channels)
    {
        using var op = device.BeginOp(25);
        backend.ModulateForward(input, shift, scale, output, batch, tokens, channels);
    }

    /// <inheritdoc/>
    public void ModulateBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> scale, Tensor<float> dInput,
        Tensor<float> dShift, Tensor<float> dScale, int batch, int tokens, int channels, bool accumulate = true)
    {
        using var op = device.BeginOp(26);
        backend.ModulateBackward(dOutput, input, scale, dInput, dShift, dScale, batch, tokens, channels, accumulate);
    }

    /// <inheritdoc/>
    public void GatedResidualForward(Tensor<float> residual, Tensor<float> branch, Tensor<float> gate, Tensor<float> output,
        int batch, int tokens, int channels, DropoutMask? dropout = null)
    {
        using var op = device.BeginOp(27);
        backend.GatedResidualForward(residual, branch, gate, output, batch, tokens, channels, dropout);
    }

    /// <inheritdoc/>
    public void GatedResidualBackward(Tensor<float> dOutput, Tensor<float> branch, Tensor<float> gate, Tensor<float> dBranch,
        Tensor<float> dGate, int batch, int tokens, int channels, bool accumulate = true, DropoutMask? dropout = null)
    {
        using var op = device.BeginOp(28);
        backend.GatedResidualBackward(dOutput, branch, gate, dBranch, dGate, batch, tokens, channels, accumulate, dropout);
    }

    /// <inheritdoc/>
    public void AdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment,
        int count, in AdamWParameters hyper, int step, float gradScale)
    {
        using var op = device.BeginOp(29);
        backend.AdamWStep(parameters, gradients, firstMoment, secondMoment, count, in hyper, step, gradScale);
    }

    /// <inheritdoc/>
    public void ClippedAdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment,
        Tensor<float> secondMoment, int count, in AdamWParameters hyper, int step, Tensor<float> sumOfSquares, double maxNorm,
        Tensor<float>? ema = null, float emaDecay = 0f)
    {
        using var op = device.BeginOp(29);
        backend.ClippedAdamWStep(parameters, gradients, firstMoment, secondMoment, count, in hyper, step, sumOfSquares, maxNorm, ema,
            emaDecay);
    }

    /// <inheritdoc/>
    public void SumOfSquares(Tensor<float> x, Tensor<float> result, int count)
    {
        using var op = device.BeginOp(30);
        backend.SumOfSquares(x, result, count);
    }

    /// <inheritdoc/>
    public void EmaUpdate(Tensor<float> parameters, Tensor<float> ema, int count, float decay)
    {
        using var op = device.BeginOp(31);
        backend.EmaUpdate(parameters, ema, count, decay);
    }

    /// <inheritdoc/>
    public void RotaryForward(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin, int batch, int tokens, int heads, int headDim,
        int positionOffset)
    {
        using var op = device.BeginOp(32);
        backend.RotaryForward(qkv, cos, sin, batch, tokens, heads, headDim, positionOffset);
    }

    /// <inheritdoc/>
    public void RotaryBackward(Tensor<float> dQkv, Tensor<float> cos, Tensor<float> sin, int batch, int tokens, int heads, int headDim,
        int positionOffset)
    {
        using var op = device.BeginOp(33);
        backend.RotaryBackward(dQkv, cos, sin, batch, tokens, heads, headDim, positionOffset);
    }

    /// <inheritdoc/>
    public void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows)
    {
        using var op = device.BeginOp(34);
        backend.GatherRows(source, indices, destination, rows, channels, sourceRows);
    }

    /// <inheritdoc/>
    public void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels,
        int destinationRows)
    {
        using var op = device.BeginOp(35);
        backend.ScatterAddRows(source, indices, destination, rows, channels, destinationRows);
    }

    /// <inheritdoc/>
    public void SampleCategorical(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters)
    {
        using var op = device.BeginOp(36);
        backend.SampleCategorical(logits, ids, rows, classes, vocab, in parameters);
    }

    /// <inheritdoc/>
    public void Argmax(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab)
    {
        using var op = device.BeginOp(37);
        backend.Argmax(logits, ids, rows, classes, vocab);
    }

    /// <inheritdoc/>
    public void ScatterIds(Tensor<int> ids, Tensor<int> rows, Tensor<int> target, int count, int targetCount, int limit, int replacement)
    {
        using var op = device.BeginOp(38);
        backend.ScatterIds(ids, rows, target, count, targetCount, limit, replacement);
    }

    /// <inheritdoc/>
    public void KeepTopK(Tensor<float> logits, int rows, int classes, int vocab, int k)
    {
        using var op = device.BeginOp(39);
        backend.KeepTopK(logits, rows, classes, vocab, k);
    }

    /// <inheritdoc/>
    public void Fill(Tensor<float> x, float value, int count)
    {
        using var op = device.BeginOp(40);
        backend.Fill(x, value, count);
    }

    /// <inheritdoc/>
    public void Copy(Tensor<float> source, Tensor<float> destination, int count)
    {
        using var op = device.BeginOp(41);
        backend.Copy(source, destination, count);
    }
}
