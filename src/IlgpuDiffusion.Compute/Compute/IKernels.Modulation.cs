namespace IlgpuDiffusion.Compute;

// adaLN modulation and the gated residual.
public partial interface IKernels
{
    /// <summary>output[b,t,c] = input[b,t,c]·(1 + scale[b,c]) + shift[b,c].</summary>
    /// <param name="input">[batch, tokens, channels]</param>
    /// <param name="shift">[batch, channels]</param>
    /// <param name="scale">[batch, channels]</param>
    /// <param name="output">[batch, tokens, channels], overwritten</param>
    void ModulateForward(Tensor<float> input, Tensor<float> shift, Tensor<float> scale, Tensor<float> output,
        int batch, int tokens, int channels);

    /// <summary>
    /// dInput += dOutput·(1+scale); dShift += Σ_t dOutput; dScale += Σ_t dOutput·input; all three = when not
    /// <paramref name="accumulate"/> (none is read).
    /// </summary>
    /// <param name="dOutput">[batch, tokens, channels]</param>
    /// <param name="input">[batch, tokens, channels]</param>
    /// <param name="scale">[batch, channels]</param>
    /// <param name="dInput">[batch, tokens, channels]</param>
    /// <param name="dShift">[batch, channels]</param>
    /// <param name="dScale">[batch, channels]</param>
    void ModulateBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> scale,
        Tensor<float> dInput, Tensor<float> dShift, Tensor<float> dScale, int batch, int tokens, int channels, bool accumulate = true);

    /// <summary>
    /// output = residual + gate[b,c]·branch. <paramref name="output"/> may be <paramref name="residual"/>. With
    /// <paramref name="dropout"/>, the branch is first dropped in place in the same pass, as
    /// <see cref="DropoutForward"/>(branch, branch) with that mask would (the backward reads the dropped branch).
    /// </summary>
    /// <param name="residual">[batch, tokens, channels]</param>
    /// <param name="branch">[batch, tokens, channels]; dropped in place with <paramref name="dropout"/></param>
    /// <param name="gate">[batch, channels]</param>
    /// <param name="output">[batch, tokens, channels], overwritten</param>
    /// <param name="dropout">The branch's dropout, or null for none.</param>
    void GatedResidualForward(Tensor<float> residual, Tensor<float> branch, Tensor<float> gate, Tensor<float> output,
        int batch, int tokens, int channels, DropoutMask? dropout = null);

    /// <summary>
    /// dBranch += gate·dOutput; dGate += Σ_t dOutput·branch; both = when not <paramref name="accumulate"/> (neither is
    /// read). (dResidual is dOutput itself.) With <paramref name="dropout"/> (the forward's), dBranch receives the gradient
    /// of the branch before the dropout instead, as <see cref="DropoutBackward"/> of gate·dOutput would give it, in the
    /// same pass; <paramref name="branch"/> is then the dropped branch.
    /// </summary>
    /// <param name="dOutput">[batch, tokens, channels]</param>
    /// <param name="branch">[batch, tokens, channels]</param>
    /// <param name="gate">[batch, channels]</param>
    /// <param name="dBranch">[batch, tokens, channels]</param>
    /// <param name="dGate">[batch, channels]</param>
    /// <param name="dropout">The forward's dropout of the branch, or null for none.</param>
    void GatedResidualBackward(Tensor<float> dOutput, Tensor<float> branch, Tensor<float> gate,
        Tensor<float> dBranch, Tensor<float> dGate, int batch, int tokens, int channels, bool accumulate = true,
        DropoutMask? dropout = null);
}
