namespace IlgpuDiffusion.Compute;

// Op set II, part 2: the SUBS log-softmax, the MDLM cross-entropy, SDTT divergences, and
// row gather/scatter (the output head is computed only for the rows that need it).
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

    /// <summary>
    /// values[r] = D(student row r ‖ teacher row r) with the student's SUBS log-softmax taken on the fly
    /// (see <see cref="Divergence"/> for the definitions). When <paramref name="dStudentLogits"/> is given
    /// (it may alias <paramref name="studentLogits"/>), it is overwritten with gradScale·∂values[r]/∂logits.
    /// </summary>
    /// <param name="studentLogits">[rows, classes], raw logits</param>
    /// <param name="teacherLogProbs">[rows, classes], normalized log-probabilities</param>
    /// <param name="values">[rows], overwritten</param>
    /// <param name="dStudentLogits">[rows, classes] or null, overwritten</param>
    void DivergenceForwardBackward(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs,
        Tensor<float> values, Tensor<float>? dStudentLogits, int rows, int classes, int maskIndex, float gradScale);

    /// <summary>destination[r] = source[indices[r]].</summary>
    /// <param name="source">[sourceRows, channels]</param>
    /// <param name="indices">[rows], each in [0, sourceRows)</param>
    /// <param name="destination">[rows, channels], overwritten</param>
    void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows);

    /// <summary>destination[indices[r]] += source[r]; the indices must be distinct.</summary>
    /// <param name="source">[rows, channels]</param>
    /// <param name="indices">[rows], distinct, each in [0, destinationRows)</param>
    /// <param name="destination">[destinationRows, channels], accumulated</param>
    void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int destinationRows);
}

/// <summary>
/// Divergences between student log-probs s = log p_s and teacher log-probs t over one row of V entries.
/// The MASK entry takes no part: under SUBS its probability is 0 in both rows and its log-prob is the
/// sentinel −1e6 (shifted by the row's normalizer), whose float rounding would otherwise add noise to the
/// log-space divergences.
/// </summary>
public enum Divergence
{
    /// <summary>Reverse KL(student‖teacher) = Σ_v p_s(v)·(s_v − t_v): the one SDTT uses (kl-bwd).</summary>
    ReverseKl,

    /// <summary>Forward KL(teacher‖student) = Σ_v p_t(v)·(t_v − s_v) (kl-fwd).</summary>
    ForwardKl,

    /// <summary>Mean squared error of log-probs, (1/V)·Σ_v (s_v − t_v)² over all V entries (paper Eq. 11).</summary>
    LogProbMse,

    /// <summary>Total variation distance ½·Σ_v |p_s(v) − p_t(v)| in probability space (paper Eq. 10).</summary>
    TotalVariation,

    /// <summary>Σ_v |s_v − t_v|: L1 on log-probs without ½, what the released code calls TVD (compatibility).</summary>
    LogProbL1,
}
