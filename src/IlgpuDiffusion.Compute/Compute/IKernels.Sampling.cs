namespace IlgpuDiffusion.Compute;

// Categorical draws and argmax on the device, one row of logits per draw, and the drawn ids scattered into sequences.
public partial interface IKernels
{
    /// <summary>
    /// For each row draws an id from softmax(logits[r, 0..vocab) / temperature) — entries at vocab and above
    /// (MASK) are never drawn. With topP &lt; 1 only the nucleus takes part: entries with p_v ≥ τ, τ the largest value
    /// whose such entries hold probability ≥ topP. Two exact methods (<see cref="SamplingParameters.Draw"/>), both in fp64
    /// with s_v = l_v·(1/T) in double: <see cref="CategoricalDraw.InverseCdf"/> takes one uniform
    /// U = <see cref="Philox.UniformDouble"/>(seed, step, f + r), f = <see cref="SamplingParameters.FirstRow"/>, and returns
    /// the first v whose running sum of m_w = exp(s_w − max s) over members w ≤ v exceeds U·Σ m (the last member with
    /// m &gt; 0 if rounding leaves none);
    /// <see cref="CategoricalDraw.ExponentialRace"/> returns argmax_v (s_v − log(−log(U_v + 1e-10) + 1e-10)) with
    /// U_v = <see cref="Philox.UniformDouble"/>(seed, step, (f + r)·vocab + v).
    /// A row with nothing to draw gets −1: under the inverse CDF one whose Σ m is not positive (a NaN or +∞ logit, or none
    /// finite), under the race one where no entry's score beats −∞ (NaN entries never do).
    /// </summary>
    /// <param name="logits">[rows, classes], classes ≥ vocab</param>
    /// <param name="ids">[rows], overwritten</param>
    void SampleCategorical(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters);

    /// <summary>ids[r] = argmax over v &lt; vocab of logits[r, v] (the lowest index wins ties).</summary>
    /// <param name="logits">[rows, classes]</param>
    /// <param name="ids">[rows], overwritten</param>
    void Argmax(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab);

    /// <summary>
    /// target[rows[j]] = ids[j] where ids[j] lies in [0, limit), else <paramref name="replacement"/>, for j &lt; count: drawn
    /// ids written into their sequences on the device, so that the host need not read them back between steps. A draw
    /// from a row without a finite logit leaves no id in range; finding the replacement where an id was drawn tells the
    /// caller so. ids and rows must not overlap target.
    /// </summary>
    /// <param name="ids">[count]</param>
    /// <param name="rows">[count], distinct, each in [0, targetCount)</param>
    /// <param name="target">[targetCount], written at the rows</param>
    /// <param name="limit">Ids below it are written as they are; at least 1.</param>
    /// <param name="replacement">Written for the others; not negative.</param>
    void ScatterIds(Tensor<int> ids, Tensor<int> rows, Tensor<int> target, int count, int targetCount, int limit, int replacement);
}

/// <summary>Parameters of one categorical draw over a batch of rows.</summary>
/// <param name="Seed">The sampler's seed.</param>
/// <param name="Step">The counter stream of this draw (e.g. the sampling step), so steps draw independently.</param>
/// <param name="Temperature">Logits are divided by it; must be positive.</param>
/// <param name="TopP">Nucleus mass in (0, 1]; 1 disables nucleus sampling.</param>
/// <param name="Draw">How random numbers become ids; both sample the same distribution, with different ids per seed.</param>
/// <param name="FirstRow">The counter of the call's row 0: rows drawn in chunks, each passing its first row's index, draw
/// the ids one call over all rows would.</param>
public readonly record struct SamplingParameters(ulong Seed, ulong Step, float Temperature = 1f, float TopP = 1f,
    CategoricalDraw Draw = CategoricalDraw.InverseCdf, long FirstRow = 0);

