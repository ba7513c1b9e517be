namespace IlgpuDiffusion.Compute;

/// <summary>
/// The argument checks of each op, shared by every backend so that a bad call fails with the
/// same message everywhere, before any work starts. Backends add only their own limits.
/// </summary>
public static class OpChecks
{
    /// <summary><see cref="IKernels.MatMul"/>: a, b and c hold m·k, k·n and m·n elements.</summary>
    public static void MatMul(Tensor<float> a, Tensor<float> b, Tensor<float> c, int m, int n, int k)
    {
        Check.Sizes(true, m, n, k);
        Check.Count(a, (long)m * k, nameof(a));
        Check.Count(b, (long)n * k, nameof(b));
        Check.Count(c, (long)m * n, nameof(c));
    }

    /// <summary><see cref="IKernels.LinearForward"/>.</summary>
    public static void LinearForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float> output,
        int rows, int inChannels, int outChannels)
    {
        Check.Sizes(true, rows, inChannels, outChannels);
        Check.Count(input, (long)rows * inChannels, nameof(input));
        Check.Count(weight, (long)outChannels * inChannels, nameof(weight));
        Check.Count(bias, outChannels, nameof(bias));
        Check.Count(output, (long)rows * outChannels, nameof(output));
    }

    /// <summary><see cref="IKernels.LinearBackward"/>.</summary>
    public static void LinearBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight,
        Tensor<float>? dInput, Tensor<float>? dWeight, Tensor<float>? dBias, int rows, int inChannels, int outChannels)
    {
        Check.Sizes(true, rows, inChannels, outChannels);
        Check.Count(dOutput, (long)rows * outChannels, nameof(dOutput));
        Check.Count(input, (long)rows * inChannels, nameof(input));
        Check.Count(weight, (long)outChannels * inChannels, nameof(weight));
        Check.Count(dInput, (long)rows * inChannels, nameof(dInput));
        Check.Count(dWeight, (long)outChannels * inChannels, nameof(dWeight));
        Check.Count(dBias, outChannels, nameof(dBias));
    }

    /// <summary><see cref="IKernels.LayerNormForward"/>: row tensors [rows, channels], statistics [rows], positive eps.</summary>
    public static void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean,
        Tensor<float> rstd, int rows, int channels, float eps)
    {
        LayerNorm(input, weight, output, mean, rstd, rows, channels);
        if (!(eps > 0f)) throw new ArgumentOutOfRangeException(nameof(eps), $"eps must be positive; got {eps}.");
    }

    /// <summary>
    /// <see cref="IKernels.LayerNormModulateForward"/>: LayerNorm's checks over batch·tokens rows, vectors [batch, channels].
    /// </summary>
    public static void LayerNormModulateForward(Tensor<float> input, Tensor<float> weight, Tensor<float> shift, Tensor<float> scale,
        Tensor<float>? normalized, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd, int batch, int tokens, int channels,
        float eps)
    {
        Check.Sizes(true, batch, tokens);
        LayerNormForward(input, weight, output, mean, rstd, checked(batch * tokens), channels, eps);
        Check.Count(normalized, (long)batch * tokens * channels, nameof(normalized));
        Check.Count(shift, (long)batch * channels, nameof(shift));
        Check.Count(scale, (long)batch * channels, nameof(scale));
    }

    /// <summary><see cref="IKernels.LayerNormBackward"/>.</summary>
    public static void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean,
        Tensor<float> rstd, Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels)
    {
        LayerNorm(input, weight, dOutput, mean, rstd, rows, channels);
        Check.Count(dInput, (long)rows * channels, nameof(dInput));
        Check.Count(dWeight, channels, nameof(dWeight));
    }

    /// <summary><see cref="IKernels.QkNormForward"/>: packed qkv [rows, 3, heads, headDim], positive eps.</summary>
    public static void QkNormForward(Tensor<float> qkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        int rows, int heads, int headDim, float eps)
    {
        QkNorm(qkv, weight, normalized, rstd, rows, heads, headDim);
        if (!(eps > 0f)) throw new ArgumentOutOfRangeException(nameof(eps), $"eps must be positive; got {eps}.");
    }

    /// <summary><see cref="IKernels.QkNormBackward"/>.</summary>
    public static void QkNormBackward(Tensor<float> dQkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        Tensor<float> dWeight, int rows, int heads, int headDim)
    {
        QkNorm(dQkv, weight, normalized, rstd, rows, heads, headDim);
        Check.Count(dWeight, 2L * headDim, nameof(dWeight));
    }

    private static void QkNorm(Tensor<float> qkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        int rows, int heads, int headDim)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, heads, headDim);
        Check.Count(qkv, 3L * rows * heads * headDim, nameof(qkv));
        Check.Count(weight, 2L * headDim, nameof(weight));
        Check.Count(normalized, 2L * rows * heads * headDim, nameof(normalized));
        Check.Count(rstd, 2L * rows * heads, nameof(rstd));
    }

    private static void LayerNorm(Tensor<float> input, Tensor<float> weight, Tensor<float> rowsTensor, Tensor<float> mean,
        Tensor<float> rstd, int rows, int channels)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, channels);
        Check.Count(input, (long)rows * channels, nameof(input));
        Check.Count(weight, channels, nameof(weight));
        Check.Count(rowsTensor, (long)rows * channels, "output");
        Check.Count(mean, rows, nameof(mean));
        Check.Count(rstd, rows, nameof(rstd));
    }

    /// <summary>Rotary embedding: even head size, tables covering positions up to positionOffset + tokens.</summary>
    public static void Rotary(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset)
    {
        Check.Sizes(true, batch, tokens, positionOffset);
        Check.Sizes(false, heads, headDim);
        if (headDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), $"Rotary embedding needs an even head dimension; got {headDim}.");
        Check.Count(qkv, (long)batch * tokens * 3 * heads * headDim, nameof(qkv));
        long table = ((long)positionOffset + tokens) * (headDim / 2);
        Check.Count(cos, table, nameof(cos));
        Check.Count(sin, table, nameof(sin));
    }

    /// <summary>Attention: qkv [batch, tokens, 3, heads, headDim] and output [batch, tokens, heads, headDim].</summary>
    public static void Attention(Tensor<float> qkv, Tensor<float> output, int batch, int tokens, int heads, int headDim)
    {
        Check.Sizes(true, batch, tokens);
        Check.Sizes(false, heads, headDim);
        Check.Count(qkv, (long)batch * tokens * 3 * heads * headDim, nameof(qkv));
        Check.Count(output, (long)batch * tokens * heads * headDim, nameof(output));
    }

    /// <summary>The KV-cached step: attention shapes plus a cache with room for position + newTokens.</summary>
    public static void AttentionWithCache(Tensor<float> qkv, Tensor<float> kCache, Tensor<float> vCache, Tensor<float> output,
        int batch, int newTokens, int heads, int headDim, int position, int capacity)
    {
        Attention(qkv, output, batch, newTokens, heads, headDim);
        Check.Sizes(true, position);
        if ((long)position + newTokens > capacity)
            throw new ArgumentOutOfRangeException(nameof(position),
                $"The KV cache holds {capacity} positions; writing {newTokens} new tokens at position {position} would overflow it.");
        long cacheLength = (long)batch * heads * capacity * headDim;
        Check.Count(kCache, cacheLength, nameof(kCache));
        Check.Count(vCache, cacheLength, nameof(vCache));
    }

    /// <summary>
    /// <see cref="IKernels.CrossEntropy"/> shapes, 1 ≤ vocab ≤ classes (the target ids are checked by each backend where
    /// it reads them).
    /// </summary>
    public static void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, classes, vocab);
        if (vocab > classes)
            throw new ArgumentOutOfRangeException(nameof(vocab), $"The vocabulary ({vocab}) must fit the {classes} classes of a row.");
        Check.Count(logits, (long)rows * classes, nameof(logits));
        Check.Count(dLogits, (long)rows * classes, nameof(dLogits));
        Check.Count(targets, rows, nameof(targets));
        Check.Count(weights, rows, nameof(weights));
        Check.Count(losses, rows, nameof(losses));
    }

    /// <summary>
    /// SUBS rows (<see cref="IKernels.SubsCrossEntropy"/>, <see cref="IKernels.SubsLogSoftmax"/>,
    /// <see cref="IKernels.DivergenceForwardBackward"/>): rows of <paramref name="classes"/> entries whose first
    /// <paramref name="vocab"/> take part, MASK among them; each tensor holds rows·classes.
    /// </summary>
    public static void SubsRows(int rows, int classes, int vocab, int maskIndex,
        params ReadOnlySpan<(Tensor<float>? Tensor, string Name)> tensors)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, classes, vocab);
        if (vocab > classes)
            throw new ArgumentOutOfRangeException(nameof(vocab), $"A vocabulary of {vocab} does not fit rows of {classes} classes.");
        if ((uint)maskIndex >= (uint)vocab)
            throw new ArgumentOutOfRangeException(nameof(maskIndex), $"MASK index {maskIndex} is outside the vocabulary of {vocab}.");
        foreach (var (tensor, name) in tensors) Check.Count(tensor, (long)rows * classes, name);
    }

    /// <summary>Sampling and argmax: logits [rows, classes] and ids [rows], drawing among the first vocab ≤ classes entries.</summary>
    public static void Sampling(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, classes, vocab);
        if (vocab > classes)
            throw new ArgumentOutOfRangeException(nameof(vocab), $"Cannot draw from {vocab} entries of rows with {classes} classes.");
        Check.Count(logits, (long)rows * classes, nameof(logits));
        Check.Count(ids, rows, nameof(ids));
    }

    /// <summary>
    /// <see cref="IKernels.SampleCategorical"/>: the shapes of an argmax, a positive temperature, topP in
    /// (0, 1] and a known draw method.
    /// </summary>
    public static void Sampling(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters)
    {
        Sampling(logits, ids, rows, classes, vocab);
        if (!(parameters.Temperature > 0f))
            throw new ArgumentOutOfRangeException(nameof(parameters), $"Temperature must be positive; got {parameters.Temperature}.");
        if (!(parameters.TopP > 0f && parameters.TopP <= 1f))
            throw new ArgumentOutOfRangeException(nameof(parameters), $"TopP must be in (0, 1]; got {parameters.TopP}.");
        if (!Enum.IsDefined(parameters.Draw))
            throw new ArgumentOutOfRangeException(nameof(parameters), $"{(int)parameters.Draw} is not a categorical draw method.");
        if (parameters.FirstRow < 0)
            throw new ArgumentOutOfRangeException(nameof(parameters), $"FirstRow must not be negative; got {parameters.FirstRow}.");
    }

    /// <summary>Shapes and settings of <see cref="IKernels.ScatterIds"/> (the rows are checked by each backend).</summary>
    public static void ScatterIds(Tensor<int> ids, Tensor<int> rows, Tensor<int> target, int count, int targetCount, int limit,
        int replacement)
    {
        Check.Sizes(true, count, targetCount);
        Check.Sizes(false, limit);
        ArgumentOutOfRangeException.ThrowIfNegative(replacement);
        Check.Count(ids, count, nameof(ids));
        Check.Count(rows, count, nameof(rows));
        Check.Count(target, targetCount, nameof(target));
    }

    /// <summary><see cref="IKernels.KeepTopK"/>: logits [rows, classes] with vocab ≤ classes, k ≥ 1.</summary>
    public static void KeepTopK(Tensor<float> logits, int rows, int classes, int vocab, int k)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, classes, vocab);
        if (vocab > classes)
            throw new ArgumentOutOfRangeException(nameof(vocab), $"Cannot filter {vocab} entries of rows with {classes} classes.");
        if (k < 1)
            throw new ArgumentOutOfRangeException(nameof(k), $"Top-k keeps at least one entry; got k = {k}.");
        Check.Count(logits, (long)rows * classes, nameof(logits));
    }
}
