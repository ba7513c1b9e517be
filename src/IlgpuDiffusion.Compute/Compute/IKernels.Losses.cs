namespace IlgpuDiffusion.Compute;

// The SUBS log-softmax and the MDLM (SUBS) cross-entropy.
//
// Rows hold `classes` logits (the model vocabulary, MASK included at `maskIndex`). SUBS adds
// −1e6 to the MASK logit before normalizing, so p(MASK) ≈ 0; it is applied on the fly, the
// input logits are not modified unless an output aliases them.
public partial interface IKernels
{
    /// <summary>logProbs = log_softmax(logits with −1e6 added at maskIndex), row by row. logProbs may alias logits.</summary>
    /// <param name="logits">[rows, classes]</param>
    /// <param name="logProbs">[rows, classes], overwritten</param>
    void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int maskIndex);

    /// <summary>
    /// Fused SUBS cross-entropy: losses[r] = weights[r]·(−log p_r[targets[r]]) with p_r the SUBS softmax of row r.
    /// When <paramref name="dLogits"/> is given (it may alias <paramref name="logits"/>), it is overwritten with
    /// gradScale·weights[r]·(p_r − onehot(targets[r])). Rows of weight 0 are skipped (loss 0, gradient row 0).
    /// </summary>
    /// <param name="logits">[rows, classes]</param>
    /// <param name="targets">[rows], each in [0, classes) and not maskIndex</param>
    /// <param name="weights">[rows] (1/t for masked rows under the MDLM NELBO)</param>
    /// <param name="losses">[rows], overwritten</param>
    /// <param name="dLogits">[rows, classes] or null, overwritten</param>
    void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int maskIndex, float gradScale);
}
