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

    /// <summary>
    /// Floats of the copy of a linear layer's input [<paramref name="rows"/>, <paramref name="channels"/>] that this backend
    /// keeps where <see cref="LinearForward"/> or <see cref="LinearGeluForward"/> is given a place for it, so that the
    /// layer's weight gradient (<see cref="LinearBackward"/>, <see cref="GeluLinearBackward"/>) reads it instead of copying the
    /// input again; 0 where the backend keeps none. Tensor cores under the BF16 precision keep the BF16 copy their products
    /// read (pairs along the channels, padded to 8 channels) where weight gradients of that many channels run on copies (512
    /// by default); the CPU, fp32, TF32 and cards without tensor cores keep none.
    /// </summary>
    long InputCopyLength(int rows, int channels);

    /// <summary>output = input·weightᵀ + bias (PyTorch Linear).</summary>
    /// <param name="input">[rows, inChannels]</param>
    /// <param name="weight">[outChannels, inChannels]</param>
    /// <param name="bias">[outChannels] or null</param>
    /// <param name="output">[rows, outChannels], overwritten</param>
    /// <param name="inputCopy">
    /// Null, or at least <see cref="InputCopyLength"/>(rows, inChannels) floats, overwritten with the backend's copy of
    /// <paramref name="input"/> for the backward to read (ignored by a backend that keeps none).
    /// </param>
    /// <param name="inputCopyMade">
    /// Whether <paramref name="inputCopy"/> already holds the copy, as <see cref="LinearGeluForward"/>'s activationCopy
    /// leaves it: a backend that keeps copies then reads it and not <paramref name="input"/>.
    /// </param>
    void LinearForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float> output,
        int rows, int inChannels, int outChannels, Tensor<float>? inputCopy = null, bool inputCopyMade = false);

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
    /// <param name="inputCopy">As <see cref="LinearForward"/>'s.</param>
    /// <param name="activationCopy">
    /// Null, or at least <see cref="InputCopyLength"/>(rows, outChannels) floats: a backend that keeps copies writes the
    /// activation's copy there, for the next Linear to read (<see cref="LinearForward"/>'s inputCopyMade) and its backward
    /// after it, and need not write <paramref name="activation"/>; one that keeps none ignores it.
    /// </param>
    void LinearGeluForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float>? preActivation,
        Tensor<float> activation, int rows, int inChannels, int outChannels, Tensor<float>? inputCopy = null,
        Tensor<float>? activationCopy = null);

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
    /// <param name="inputCopy">
    /// Null, or the copy of <paramref name="input"/> that <see cref="LinearForward"/> kept, with nothing written to either
    /// since: where the weight gradient runs on copies it reads this one.
    /// </param>
    void LinearBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight,
        Tensor<float>? dInput, Tensor<float>? dWeight, Tensor<float>? dBias,
        int rows, int inChannels, int outChannels, bool accumulateInput = true, Tensor<float>? inputCopy = null);

    /// <summary>
    /// The backward of a Linear whose input is <paramref name="activation"/> = GELU(<paramref name="preActivation"/>), taken
    /// on through the GELU: dPreActivation = (dOutput·weight) ⊙ GELU'(preActivation), overwritten; dWeight += dOutputᵀ·
    /// activation; dBias += Σ_rows dOutput (null ones skipped). The same results as <see cref="LinearBackward"/> into
    /// dPreActivation (not accumulating), then <see cref="GeluBackward"/> of it in place; where the backend can (tensor-core
    /// GEMMs), in one pass whose epilogue multiplies each input-gradient result by GELU' (an MLP's down projection).
    /// </summary>
    /// <param name="dOutput">[rows, outChannels]</param>
    /// <param name="activation">
    /// [rows, inChannels]: the Linear's input, GELU(preActivation); where <paramref name="activationCopy"/> is given, a scratch
    /// instead, into which the op writes GELU(preActivation) itself if its weight gradient cannot read the copy
    /// </param>
    /// <param name="preActivation">[rows, inChannels]</param>
    /// <param name="weight">[outChannels, inChannels]</param>
    /// <param name="dPreActivation">[rows, inChannels], overwritten</param>
    /// <param name="dWeight">[outChannels, inChannels] or null</param>
    /// <param name="dBias">[outChannels] or null</param>
    /// <param name="activationCopy">
    /// Null, or the copy of the activation that <see cref="LinearForward"/> kept (its GELU(preActivation), with nothing
    /// written to the copy or to preActivation since): the weight gradient reads it, and the activation need not be
    /// computed again.
    /// </param>
    void GeluLinearBackward(Tensor<float> dOutput, Tensor<float> activation, Tensor<float> preActivation, Tensor<float> weight,
        Tensor<float> dPreActivation, Tensor<float>? dWeight, Tensor<float>? dBias, int rows, int inChannels, int outChannels,
        Tensor<float>? activationCopy = null);
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
