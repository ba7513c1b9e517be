namespace IlgpuDiffusion.Compute;

/// <summary>
/// The op contract: one method per layer and direction. Every backend implements all of
/// it (ILGPU kernels, SIMD CPU); the tests hold a scalar reference in double.
/// <para>
/// Conventions: inputs first, outputs last, sizes explicit. All tensors are dense
/// row-major fp32 unless stated. Gradients are prefixed <c>d</c>; parameter gradients
/// (<c>dWeight</c>, <c>dBias</c>, <c>dShift</c>, ...) and input gradients are
/// <b>accumulated</b> (<c>+=</c>) so that branches and micro-batches add up, unless a
/// parameter says otherwise. Calls are queued in order; results are visible after
/// <see cref="Device.Synchronize"/> or a copy to the host.
/// </para>
/// </summary>
public partial interface IKernels
{
    // ---------------------------------------------------------------- utilities

    /// <summary>x[i] = value for i &lt; count.</summary>
    void Fill(Tensor<float> x, float value, int count);

    /// <summary>destination[i] = source[i] for i &lt; count.</summary>
    void Copy(Tensor<float> source, Tensor<float> destination, int count);

    // ---------------------------------------------------------------- GEMM

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

    /// <summary>dInput += dOutput·weight; dWeight += dOutputᵀ·input; dBias += Σ_rows dOutput. Null outputs are skipped.</summary>
    /// <param name="dOutput">[rows, outChannels]</param>
    /// <param name="input">[rows, inChannels]</param>
    /// <param name="weight">[outChannels, inChannels]</param>
    /// <param name="dInput">[rows, inChannels] or null</param>
    /// <param name="dWeight">[outChannels, inChannels] or null</param>
    /// <param name="dBias">[outChannels] or null</param>
    void LinearBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight,
        Tensor<float>? dInput, Tensor<float>? dWeight, Tensor<float>? dBias,
        int rows, int inChannels, int outChannels);

    // ---------------------------------------------------------------- embedding

    /// <summary>output[r] = table[ids[r]].</summary>
    /// <param name="ids">[rows], each in [0, vocab)</param>
    /// <param name="table">[vocab, channels]</param>
    /// <param name="output">[rows, channels], overwritten</param>
    void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels);

    /// <summary>dTable[ids[r]] += dOutput[r] (scatter-add).</summary>
    /// <param name="ids">[rows]</param>
    /// <param name="dOutput">[rows, channels]</param>
    /// <param name="dTable">[vocab, channels]</param>
    void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels);

    // ---------------------------------------------------------------- LayerNorm (no bias)

    /// <summary>output = (x − mean)·rstd·weight per row; biased variance; saves mean and rstd.</summary>
    /// <param name="input">[rows, channels]</param>
    /// <param name="weight">[channels]</param>
    /// <param name="output">[rows, channels], overwritten</param>
    /// <param name="mean">[rows], overwritten</param>
    /// <param name="rstd">[rows], overwritten: 1/sqrt(var + eps)</param>
    void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd,
        int rows, int channels, float eps);

    /// <summary>dInput += ∂L/∂input; dWeight += Σ_rows dOutput·x̂.</summary>
    /// <param name="dOutput">[rows, channels]</param>
    /// <param name="input">[rows, channels]</param>
    /// <param name="weight">[channels]</param>
    /// <param name="mean">[rows]</param>
    /// <param name="rstd">[rows]</param>
    /// <param name="dInput">[rows, channels]</param>
    /// <param name="dWeight">[channels]</param>
    void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean, Tensor<float> rstd,
        Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels);

    // ---------------------------------------------------------------- adaLN modulation and gated residual

    /// <summary>output[b,t,c] = input[b,t,c]·(1 + scale[b,c]) + shift[b,c].</summary>
    /// <param name="input">[batch, tokens, channels]</param>
    /// <param name="shift">[batch, channels]</param>
    /// <param name="scale">[batch, channels]</param>
    /// <param name="output">[batch, tokens, channels], overwritten</param>
    void ModulateForward(Tensor<float> input, Tensor<float> shift, Tensor<float> scale, Tensor<float> output,
        int batch, int tokens, int channels);

    /// <summary>dInput += dOutput·(1+scale); dShift += Σ_t dOutput; dScale += Σ_t dOutput·input.</summary>
    /// <param name="dOutput">[batch, tokens, channels]</param>
    /// <param name="input">[batch, tokens, channels]</param>
    /// <param name="scale">[batch, channels]</param>
    /// <param name="dInput">[batch, tokens, channels]</param>
    /// <param name="dShift">[batch, channels]</param>
    /// <param name="dScale">[batch, channels]</param>
    void ModulateBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> scale,
        Tensor<float> dInput, Tensor<float> dShift, Tensor<float> dScale, int batch, int tokens, int channels);

    /// <summary>output = residual + gate[b,c]·branch. <paramref name="output"/> may be <paramref name="residual"/>.</summary>
    /// <param name="residual">[batch, tokens, channels]</param>
    /// <param name="branch">[batch, tokens, channels]</param>
    /// <param name="gate">[batch, channels]</param>
    /// <param name="output">[batch, tokens, channels], overwritten</param>
    void GatedResidualForward(Tensor<float> residual, Tensor<float> branch, Tensor<float> gate, Tensor<float> output,
        int batch, int tokens, int channels);

    /// <summary>dBranch += gate·dOutput; dGate += Σ_t dOutput·branch. (dResidual is dOutput itself.)</summary>
    /// <param name="dOutput">[batch, tokens, channels]</param>
    /// <param name="branch">[batch, tokens, channels]</param>
    /// <param name="gate">[batch, channels]</param>
    /// <param name="dBranch">[batch, tokens, channels]</param>
    /// <param name="dGate">[batch, channels]</param>
    void GatedResidualBackward(Tensor<float> dOutput, Tensor<float> branch, Tensor<float> gate,
        Tensor<float> dBranch, Tensor<float> dGate, int batch, int tokens, int channels);

    // ---------------------------------------------------------------- activations

    /// <summary>output = GELU(input), tanh approximation. output may be input.</summary>
    void GeluForward(Tensor<float> input, Tensor<float> output, int count);

    /// <summary>dInput += GELU'(input)·dOutput.</summary>
    void GeluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count);

    /// <summary>output = input·sigmoid(input). output may be input.</summary>
    void SiluForward(Tensor<float> input, Tensor<float> output, int count);

    /// <summary>dInput += SiLU'(input)·dOutput.</summary>
    void SiluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count);

    // ---------------------------------------------------------------- dropout

    /// <summary>
    /// output[i] = keep(i) ? input[i]/(1−p) : 0 with keep(i) = <see cref="Philox.Uniform"/>(seed, stream, i) ≥ p.
    /// The mask is regenerated from (seed, stream) in backward, never stored. output may be input.
    /// </summary>
    void DropoutForward(Tensor<float> input, Tensor<float> output, int count, float probability, ulong seed, ulong stream);

    /// <summary>dInput += keep(i) ? dOutput[i]/(1−p) : 0, with the mask of the forward call.</summary>
    void DropoutBackward(Tensor<float> dOutput, Tensor<float> dInput, int count, float probability, ulong seed, ulong stream);

    // ---------------------------------------------------------------- optimizer

    /// <summary>
    /// One AdamW step (PyTorch semantics) with the gradient multiplied by <paramref name="gradScale"/>
    /// (the clipping factor): param −= lr·wd·param; m = β1m + (1−β1)g; v = β2v + (1−β2)g²;
    /// param −= lr·(m/(1−β1^step)) / (sqrt(v/(1−β2^step)) + eps). <paramref name="step"/> starts at 1.
    /// </summary>
    /// <param name="parameters">[count], updated</param>
    /// <param name="gradients">[count]</param>
    /// <param name="firstMoment">[count], updated</param>
    /// <param name="secondMoment">[count], updated</param>
    void AdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment,
        int count, in AdamWParameters hyper, int step, float gradScale);

    /// <summary>result[0] = Σ x[i]², deterministic for a given backend and count.</summary>
    /// <param name="x">[count]</param>
    /// <param name="result">[1], overwritten</param>
    void SumOfSquares(Tensor<float> x, Tensor<float> result, int count);

    /// <summary>ema = decay·ema + (1 − decay)·parameters.</summary>
    void EmaUpdate(Tensor<float> parameters, Tensor<float> ema, int count, float decay);
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

/// <summary>AdamW hyper-parameters for one step.</summary>
/// <param name="LearningRate">lr of this step.</param>
/// <param name="Beta1">First-moment decay.</param>
/// <param name="Beta2">Second-moment decay.</param>
/// <param name="Epsilon">Added to the root of the second moment.</param>
/// <param name="WeightDecay">Decoupled weight decay (multiplied by lr).</param>
public readonly record struct AdamWParameters(float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f,
    float Epsilon = 1e-8f, float WeightDecay = 0f);
