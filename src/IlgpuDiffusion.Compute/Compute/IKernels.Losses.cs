namespace IlgpuDiffusion.Compute;

// The SUBS log-softmax and the MDLM (SUBS) cross-entropy.
//
// Rows hold `classes` logits: the model vocabulary's `vocab` (MASK included at `maskIndex`), then any padding of a head
// whose width is rounded up (DitConfig.PaddedVocab), which takes no part. SUBS adds −1e6 to the MASK logit before
// normalizing, so p(MASK) ≈ 0; it is applied on the fly, the input logits are not modified unless an output aliases them.
public partial interface IKernels
{
    /// <summary>
    /// logProbs = log_softmax(logits with −1e6 added at maskIndex) over the first <paramref name="vocab"/> entries of each
    /// row; the padding entries from vocab on get −∞ (probability 0). logProbs may alias logits.
    /// </summary>
    /// <param name="logits">[rows, classes], classes ≥ vocab</param>
    /// <param name="logProbs">[rows, classes], overwritten</param>
    void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int vocab, int maskIndex);

    /// <summary>
    /// Fused SUBS cross-entropy: losses[r] = weights[r]·(−log p_r[targets[r]]) with p_r the SUBS softmax of row r.
    /// When <paramref name="dLogits"/> is given (it may alias <paramref name="logits"/>), it is overwritten with
    /// gradScale·weights[r]·(p_r − onehot(targets[r])), 0 on the padding entries from vocab on. Rows of weight 0 are
    /// skipped (loss 0, gradient row 0).
    /// </summary>
    /// <param name="logits">[rows, classes], classes ≥ vocab</param>
    /// <param name="targets">[rows], each in [0, vocab) and not maskIndex</param>
    /// <param name="weights">[rows] (1/t for masked rows under the MDLM NELBO)</param>
    /// <param name="losses">[rows], overwritten</param>
    /// <param name="dLogits">[rows, classes] or null, overwritten</param>
    void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, int maskIndex, float gradScale);
}
