namespace IlgpuDiffusion.Compute;

// Multi-head attention.
//
// Layouts (per token the qkv Linear output is read as (three, heads, headDim)):
//   qkv       [batch, tokens, 3, heads, headDim]   q = slot 0, k = slot 1, v = slot 2
//   output    [batch, tokens, heads, headDim]      heads concatenated h-major (input of the out projection)
//   logSumExp [batch, heads, tokens]               per query row, saved by forward for backward
//   kCache/vCache [batch, heads, capacity, headDim]
public partial interface IKernels
{
    /// <summary>
    /// Softmax attention with scale 1/√headDim, bidirectional or causal, without materializing
    /// the [batch, heads, tokens, tokens] matrix; saves the log-sum-exp of every query row.
    /// </summary>
    /// <param name="qkv">[batch, tokens, 3, heads, headDim]</param>
    /// <param name="output">[batch, tokens, heads, headDim], overwritten</param>
    /// <param name="logSumExp">[batch, heads, tokens], overwritten: log Σ_j exp(scale·q·k_j)</param>
    void AttentionForward(Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp,
        int batch, int tokens, int heads, int headDim, bool causal);

    /// <summary>
    /// dQkv += ∂L/∂qkv given dOutput, recomputing probabilities from the saved log-sum-exp; dQkv = when not
    /// <paramref name="accumulate"/> (dQkv is not read).
    /// </summary>
    /// <param name="dOutput">[batch, tokens, heads, headDim]</param>
    /// <param name="qkv">[batch, tokens, 3, heads, headDim]</param>
    /// <param name="output">[batch, tokens, heads, headDim], as written by forward</param>
    /// <param name="logSumExp">[batch, heads, tokens], as written by forward</param>
    /// <param name="dQkv">[batch, tokens, 3, heads, headDim], accumulated or overwritten</param>
    void AttentionBackward(Tensor<float> dOutput, Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp,
        Tensor<float> dQkv, int batch, int tokens, int heads, int headDim, bool causal, bool accumulate = true);

    /// <summary>
    /// Autoregressive decoding step (forward only): writes the k and v of <paramref name="newTokens"/> tokens
    /// into the cache at positions [position, position + newTokens), then lets new token i attend causally
    /// to cache positions [0, position + i].
    /// </summary>
    /// <param name="qkv">[batch, newTokens, 3, heads, headDim] of the new tokens (rotary already applied)</param>
    /// <param name="kCache">[batch, heads, capacity, headDim], updated</param>
    /// <param name="vCache">[batch, heads, capacity, headDim], updated</param>
    /// <param name="output">[batch, newTokens, heads, headDim], overwritten</param>
    void AttentionWithCacheForward(Tensor<float> qkv, Tensor<float> kCache, Tensor<float> vCache, Tensor<float> output,
        int batch, int newTokens, int heads, int headDim, int position, int capacity);
}
