namespace IlgpuDiffusion.Compute;

// The top-k filter of an autoregressive model's sampler.
public partial interface IKernels
{
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
