namespace IlgpuDiffusion.Compute;

// SDTT divergences between a student's SUBS log-softmax (see IKernels.Losses.cs) and a teacher's log-probs.
public partial interface IKernels
{
    /// <summary>
    /// values[r] = D(student row r ‖ teacher row r) over the first <paramref name="vocab"/> entries of each row, with the
    /// student's SUBS log-softmax taken on the fly (see <see cref="Divergence"/> for the definitions); the padding entries
    /// from vocab on take no part and are not read. When <paramref name="dStudentLogits"/> is given (it may alias
    /// <paramref name="studentLogits"/>), it is overwritten with gradScale·∂values[r]/∂logits, 0 on the padding.
    /// </summary>
    /// <param name="studentLogits">[rows, classes], raw logits, classes ≥ vocab</param>
    /// <param name="teacherLogProbs">[rows, classes], normalized log-probabilities</param>
    /// <param name="values">[rows], overwritten</param>
    /// <param name="dStudentLogits">[rows, classes] or null, overwritten</param>
    void DivergenceForwardBackward(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs,
        Tensor<float> values, Tensor<float>? dStudentLogits, int rows, int classes, int vocab, int maskIndex, float gradScale);
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

    /// <summary>Mean squared error of log-probs, (1/V)·Σ_v (s_v − t_v)² over all V vocabulary entries (paper Eq. 11).</summary>
    LogProbMse,

    /// <summary>Total variation distance ½·Σ_v |p_s(v) − p_t(v)| in probability space (paper Eq. 10).</summary>
    TotalVariation,

    /// <summary>Σ_v |s_v − t_v|: L1 on log-probs without ½, what the released code calls TVD (compatibility).</summary>
    LogProbL1,
}
