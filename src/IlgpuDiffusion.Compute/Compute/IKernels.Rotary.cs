namespace IlgpuDiffusion.Compute;

// Rotary position embedding, applied in place to q and k of the packed qkv that attention reads.
//
// Layouts:
//   qkv       [batch, tokens, 3, heads, headDim]   q = slot 0, k = slot 1, v = slot 2
//   cos/sin   [positions, headDim/2]               fp32 tables, θ(p, j) = p·10000^(−2j/headDim)
public partial interface IKernels
{
    /// <summary>
    /// Rotates q and k in place with the rotate-half (GPT-NeoX) convention over the whole head:
    /// u'[j] = u[j]·cos θ − u[j+d/2]·sin θ, u'[j+d/2] = u[j]·sin θ + u[j+d/2]·cos θ, at position
    /// <paramref name="positionOffset"/> + t. v is untouched.
    /// </summary>
    /// <param name="qkv">[batch, tokens, 3, heads, headDim], q and k rotated in place</param>
    /// <param name="cos">[positions, headDim/2]</param>
    /// <param name="sin">[positions, headDim/2]</param>
    void RotaryForward(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset);

    /// <summary>Backward of <see cref="RotaryForward"/>: applies the inverse rotation to dq and dk in place (dv untouched).</summary>
    /// <param name="dQkv">[batch, tokens, 3, heads, headDim], transformed in place</param>
    /// <param name="cos">[positions, headDim/2]</param>
    /// <param name="sin">[positions, headDim/2]</param>
    void RotaryBackward(Tensor<float> dQkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset);
}
