namespace IlgpuDiffusion.Compute;

// The plain softmax cross-entropy of an autoregressive (next-token) model: over every class, no MASK class
// (e.g. GPT-2's 50257 tokens).
public partial interface IKernels
{
    /// <summary>
    /// Softmax cross-entropy over the first <paramref name="vocab"/> of each row's <paramref name="classes"/> (the rest pad
    /// a head's width): losses[r] = weights[r]·(log Σ_{c &lt; vocab} exp(logits[r, c]) − logits[r, targets[r]]). When
    /// <paramref name="dLogits"/> is given (it may alias <paramref name="logits"/>), it is overwritten with
    /// gradScale·weights[r]·(softmax(logits[r]) − onehot(targets[r])), 0 on the padding. Rows of weight 0 are skipped
    /// (loss 0, gradient row 0). With weight 1, −losses[r] is the log-likelihood of the target.
    /// </summary>
    /// <param name="logits">[rows, classes]</param>
    /// <param name="targets">[rows], each in [0, vocab)</param>
    /// <param name="weights">[rows]</param>
    /// <param name="losses">[rows], overwritten</param>
    /// <param name="dLogits">[rows, classes] or null, overwritten</param>
    void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, float gradScale);
}
