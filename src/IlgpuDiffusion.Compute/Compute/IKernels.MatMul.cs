namespace IlgpuDiffusion.Compute;

// GEMM and the Linear layer built on it.
public partial interface IKernels
{
    /// <summary>
    /// c = op(a)·op(b) (or c += when <paramref name="accumulate"/>), c is [m, n]:
    /// <see cref="MatMulLayout.ABt"/>: a [m,k], b [n,k];
    /// <see cref="MatMulLayout.AB"/>: a [m,k], b [k,n];
    /// <see cref="MatMulLayout.AtB"/>: a [k,m], b [k,n].
    /// </summary>
    void MatMul(MatMulLayout layout, Tensor<float> a, Tensor<float> b, Tensor<float> c, int m, int n, int k, bool accumulate);

    /// <summary>output = input·weightᵀ + bias (PyTorch Linear).</summary>
    /// <param name="input">[rows, inChannels]</param>
    /// <param name="weight">[outChannels, inChannels]</param>
    /// <param name="bias">[outChannels] or null</param>
    /// <param name="output">[rows, outChannels], overwritten</param>
    void LinearForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float> output,
        int rows, int inChannels, int outChannels);

    /// <summary>
    /// <see cref="LinearForward"/> into <paramref name="preActivation"/>, then <see cref="GeluForward"/> of it into
    /// <paramref name="activation"/>, with the same results; where the backend can (tensor-core GEMMs), in one pass whose
    /// epilogue applies the GELU to each result it writes.
    /// </summary>
    /// <param name="input">[rows, inChannels]</param>
    /// <param name="weight">[outChannels, inChannels]</param>
    /// <param name="bias">[outChannels] or null</param>
    /// <param name="preActivation">[rows, outChannels], overwritten, or null when no backward needs it</param>
    /// <param name="activation">[rows, outChannels], overwritten</param>
    void LinearGeluForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float>? preActivation,
        Tensor<float> activation, int rows, int inChannels, int outChannels);

    /// <summary>
    /// dInput += dOutput·weight (dInput = when not <paramref name="accumulateInput"/>: dInput is not read); dWeight +=
    /// dOutputᵀ·input; dBias += Σ_rows dOutput. Null outputs are skipped.
    /// </summary>
    /// <param name="dOutput">[rows, outChannels]</param>
    /// <param name="input">[rows, inChannels]</param>
    /// <param name="weight">[outChannels, inChannels]</param>
    /// <param name="dInput">[rows, inChannels] or null</param>
    /// <param name="dWeight">[outChannels, inChannels] or null</param>
    /// <param name="dBias">[outChannels] or null</param>
    void LinearBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight,
        Tensor<float>? dInput, Tensor<float>? dWeight, Tensor<float>? dBias,
        int rows, int inChannels, int outChannels, bool accumulateInput = true);

    /// <summary>
    /// The backward of a Linear whose input is <paramref name="activation"/> = GELU(<paramref name="preActivation"/>), taken
    /// on through the GELU: dPreActivation = (dOutput·weight) ⊙ GELU'(preActivation), overwritten; dWeight += dOutputᵀ·
    /// activation; dBias += Σ_rows dOutput (null ones skipped). The same results as <see cref="LinearBackward"/> into
    /// dPreActivation (not accumulating), then <see cref="GeluBackward"/> of it in place; where the backend can (tensor-core
    /// GEMMs), in one pass whose epilogue multiplies each input-gradient result by GELU' (an MLP's down projection).
    /// </summary>
    /// <param name="dOutput">[rows, outChannels]</param>
    /// <param name="activation">[rows, inChannels]: the Linear's input, GELU(preActivation)</param>
    /// <param name="preActivation">[rows, inChannels]</param>
    /// <param name="weight">[outChannels, inChannels]</param>
    /// <param name="dPreActivation">[rows, inChannels], overwritten</param>
    /// <param name="dWeight">[outChannels, inChannels] or null</param>
    /// <param name="dBias">[outChannels] or null</param>
    void GeluLinearBackward(Tensor<float> dOutput, Tensor<float> activation, Tensor<float> preActivation, Tensor<float> weight,
        Tensor<float> dPreActivation, Tensor<float>? dWeight, Tensor<float>? dBias, int rows, int inChannels, int outChannels);
}

/// <summary>Which operands of <see cref="IKernels.MatMul"/> are transposed.</summary>
public enum MatMulLayout
{
    /// <summary>c = a·bᵀ: a [m,k], b [n,k] (Linear forward).</summary>
    ABt,

    /// <summary>c = a·b: a [m,k], b [k,n] (Linear input gradient).</summary>
    AB,

    /// <summary>c = aᵀ·b: a [k,m], b [k,n] (Linear weight gradient).</summary>
    AtB,
}
