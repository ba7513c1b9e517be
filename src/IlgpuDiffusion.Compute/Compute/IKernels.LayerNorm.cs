namespace IlgpuDiffusion.Compute;

// LayerNorm without bias, over rows and (QK-norm) over the heads of q and k.
public partial interface IKernels
{
    /// <summary>output = (x − mean)·rstd·weight per row; biased variance; saves mean and rstd.</summary>
    /// <param name="input">[rows, channels]</param>
    /// <param name="weight">[channels]</param>
    /// <param name="output">[rows, channels], overwritten</param>
    /// <param name="mean">[rows], overwritten</param>
    /// <param name="rstd">[rows], overwritten: 1/sqrt(var + eps)</param>
    void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd,
        int rows, int channels, float eps);

    /// <summary>
    /// <see cref="LayerNormForward"/> followed by <see cref="ModulateForward"/> in one pass, with the same results:
    /// normalized = (x − mean)·rstd·weight (kept for the backward when given), output = normalized·(1 + scale[b]) + shift[b].
    /// </summary>
    /// <param name="input">[batch, tokens, channels]</param>
    /// <param name="weight">[channels]</param>
    /// <param name="shift">[batch, channels]</param>
    /// <param name="scale">[batch, channels]</param>
    /// <param name="normalized">[batch, tokens, channels], overwritten, or null when no backward needs it</param>
    /// <param name="output">[batch, tokens, channels], overwritten</param>
    /// <param name="mean">[batch·tokens], overwritten</param>
    /// <param name="rstd">[batch·tokens], overwritten</param>
    void LayerNormModulateForward(Tensor<float> input, Tensor<float> weight, Tensor<float> shift, Tensor<float> scale,
        Tensor<float>? normalized, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd, int batch, int tokens, int channels,
        float eps);

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

    /// <summary>
    /// QK-norm: LayerNorm without bias over each head of q and k in packed qkv, in place: u ← x̂·weight[slot] with
    /// x̂ = (u − mean)·rstd over the head's channels, slot 0 for q and 1 for k; v untouched. Saves x̂ and rstd.
    /// </summary>
    /// <param name="qkv">[rows, 3, heads, headDim]; q and k normalized in place</param>
    /// <param name="weight">[2, headDim]: q's weight, then k's</param>
    /// <param name="normalized">[2, rows, heads, headDim], overwritten with x̂</param>
    /// <param name="rstd">[2, rows, heads], overwritten: 1/sqrt(var + eps)</param>
    void QkNormForward(Tensor<float> qkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        int rows, int heads, int headDim, float eps);

    /// <summary>
    /// Backward of <see cref="QkNormForward"/>: dq and dk are replaced in place by the gradients of the pre-norm q and
    /// k, dv is untouched; dWeight += Σ dOutput·x̂ over rows and heads.
    /// </summary>
    /// <param name="dQkv">[rows, 3, heads, headDim]; dq and dk transformed in place</param>
    /// <param name="weight">[2, headDim]</param>
    /// <param name="normalized">[2, rows, heads, headDim]: x̂ from the forward pass</param>
    /// <param name="rstd">[2, rows, heads]</param>
    /// <param name="dWeight">[2, headDim], accumulated</param>
    void QkNormBackward(Tensor<float> dQkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        Tensor<float> dWeight, int rows, int heads, int headDim);
}
