namespace IlgpuDiffusion.Compute;

// Op set III: what an autoregressive (next-token) model needs beyond the diffusion ops: the plain softmax
// cross-entropy over every class (no MASK class, e.g. GPT-2's 50257 tokens) and the top-k filter of its sampler.
public partial interface IKernels
{
    /// <summary>
    /// Softmax cross-entropy over all <paramref name="classes"/>: losses[r] = weights[r]·(log Σ_c exp(logits[r, c]) −
    /// logits[r, targets[r]]). When <paramref name="dLogits"/> is given (it may alias <paramref name="logits"/>), it is
    /// overwritten with gradScale·weights[r]·(softmax(logits[r]) − onehot(targets[r])). Rows of weight 0 are skipped
    /// (loss 0, gradient row 0). With weight 1, −losses[r] is the log-likelihood of the target.
    /// </summary>
    /// <param name="logits">[rows, classes]</param>
    /// <param name="targets">[rows], each in [0, classes)</param>
    /// <param name="weights">[rows]</param>
    /// <param name="losses">[rows], overwritten</param>
    /// <param name="dLogits">[rows, classes] or null, overwritten</param>
    void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, float gradScale);

    /// <summary>
    /// Top-k filter, in place: every logits[r, v] with v &lt; <paramref name="vocab"/> below the k-th largest of
    /// logits[r, 0..vocab) becomes −∞, so a following draw only picks among the k largest (entries equal to the
    /// k-th largest are all kept, as Hugging Face's <c>TopKLogitsWarper</c>). Entries at vocab and above are untouched.
    /// k ≥ vocab leaves the rows unchanged.
    /// </summary>
    /// <param name="logits">[rows, classes], classes ≥ vocab, filtered in place</param>
    /// <param name="k">Entries kept per row, at least 1.</param>
    void KeepTopK(Tensor<float> logits, int rows, int classes, int vocab, int k);
}
