using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The online softmax of a tensor-core attention forward (FlashAttention-2, arXiv 2307.08691) for the two rows a lane
/// holds: the running max (the same on the 4 lanes of a quad) and the lane's share of the running sum of exp(score −
/// max), reduced over the quad once at the end. Plain fields: registers.
/// </summary>
internal struct OnlineSoftmax
{
    public RowPair Max, Sum;

    /// <summary>Nothing seen yet: max −∞, sum 0.</summary>
    public static OnlineSoftmax Start() => new() { Max = new RowPair(float.NegativeInfinity, float.NegativeInfinity) };

    /// <summary>
    /// The last key of the launch's keys a query tile of <paramref name="tileQ"/> rows from <paramref name="q0"/> sees,
    /// plus one: all keys, or up to the tile's last query's position when causal.
    /// </summary>
    public static int KeyEnd(in AttentionArguments a, int q0, int tileQ)
    {
        int lastQuery = AttentionKernels.XMin(q0 + tileQ, a.Queries) - 1;
        return a.Causal != 0 ? AttentionKernels.XMin(a.Keys, a.FirstPosition + lastQuery + 1) : a.Keys;
    }

    /// <summary>
    /// Takes a tile's lane-local row maxima: the rows' max grows to the quad's largest, and the returned factors are how
    /// much the earlier sum and output shrink (1 while nothing is visible). The caller then exponentiates against
    /// <see cref="Max"/>, scales its output by the factors and <see cref="Add"/>s the tile's sums.
    /// </summary>
    public RowPair Advance(RowPair tileMax)
    {
        var next = new RowPair(WarpProducts.Max(Max.Low, WarpProducts.QuadMax(tileMax.Low)),
            WarpProducts.Max(Max.High, WarpProducts.QuadMax(tileMax.High)));
        var correction = new RowPair(Correction(Max.Low, next.Low), Correction(Max.High, next.High));
        Max = next;
        return correction;
    }

    /// <summary>
    /// One tile of a TF32 forward's 16 × 32 scores, keys <paramref name="k0"/>..: scales and masks them (without the checks
    /// when the warp's tile is wholly <paramref name="visible"/>), advances the rows' max and sum, and stores the
    /// probabilities rounded to TF32 in the warp's slab at word <paramref name="slab"/> for P·V (no barrier). Returns the
    /// factors the output accumulated so far is to be scaled by.
    /// </summary>
    public RowPair ToSlab(ref Fragments4 s, in AttentionArguments a, int query, int k0, bool visible, ArrayView<float> shared,
        int slab, int lane)
    {
        AttentionFragments.ScaleAndMask(ref s.F0, a, query, k0, visible, keysAreRows: false, lane);
        AttentionFragments.ScaleAndMask(ref s.F1, a, query, k0 + 8, visible, keysAreRows: false, lane);
        AttentionFragments.ScaleAndMask(ref s.F2, a, query, k0 + 16, visible, keysAreRows: false, lane);
        AttentionFragments.ScaleAndMask(ref s.F3, a, query, k0 + 24, visible, keysAreRows: false, lane);
        var correction = Advance(AttentionFragments.Max(s));
        var p0 = AttentionFragments.Exponentiate(ref s.F0, Max);
        var p1 = AttentionFragments.Exponentiate(ref s.F1, Max);
        var p2 = AttentionFragments.Exponentiate(ref s.F2, Max);
        var p3 = AttentionFragments.Exponentiate(ref s.F3, Max);
        Add(correction, new RowPair(p0.Low + p1.Low + p2.Low + p3.Low, p0.High + p1.High + p2.High + p3.High));
        AttentionFragments.Store(s.F0, shared, slab, 0, lane);
        AttentionFragments.Store(s.F1, shared, slab, 8, lane);
        AttentionFragments.Store(s.F2, shared, slab, 16, lane);
        AttentionFragments.Store(s.F3, shared, slab, 24, lane);
        return correction;
    }

    /// <summary>sum = sum·correction + the tile's sums of this lane.</summary>
    public void Add(RowPair correction, RowPair tileSum) =>
        Sum = new RowPair(Sum.Low * correction.Low + tileSum.Low, Sum.High * correction.High + tileSum.High);

    /// <summary>
    /// Writes the warp's 16 output rows (the head's first <paramref name="columns"/> of the 64; HeadDim) divided by the
    /// rows' sums to <paramref name="output"/> [batch, Queries, heads, HeadDim]
    /// and, when WriteLogSumExp ≠ 0, max + log(sum) to <paramref name="logSumExp"/> [batch, heads, Queries]; row g of the
    /// lane is <paramref name="query"/>, rows past the queries are skipped.
    /// </summary>
    public void Finish(in Fragments8 o, in AttentionArguments a, int columns, int bh, int query, ArrayView<float> output,
        ArrayView<float> logSumExp, int lane)
    {
        var (factor, low, high) = Finish(a, columns, bh, query, logSumExp, lane);
        AttentionFragments.Write(o, factor, output, low, high, columns, accumulate: false, lane);
    }

    /// <summary>As the 64-column version, for a warp's 16 × 128 tile (heads wider than 64 columns).</summary>
    public void Finish(in Fragments16 o, in AttentionArguments a, int columns, int bh, int query, ArrayView<float> output,
        ArrayView<float> logSumExp, int lane)
    {
        var (factor, low, high) = Finish(a, columns, bh, query, logSumExp, lane);
        WideHeadFragments.Write(o, factor, output, low, high, columns, lane);
    }

    /// <summary>
    /// Writes the log-sum-exp (when asked) and returns what the rows' output is multiplied by (1 / sum) and where the lane's
    /// two rows start in the output (−1 for a row past the queries).
    /// </summary>
    private (RowPair Factor, int Low, int High) Finish(in AttentionArguments a, int columns, int bh, int query,
        ArrayView<float> logSumExp, int lane)
    {
        var sum = new RowPair(WarpProducts.QuadSum(Sum.Low), WarpProducts.QuadSum(Sum.High));
        int b = bh / a.Heads, h = bh - b * a.Heads;
        int row = a.Heads * columns, first = (b * a.Queries * a.Heads + h) * columns;
        int low = query < a.Queries ? first + query * row : -1, high = query + 8 < a.Queries ? first + (query + 8) * row : -1;
        if (a.WriteLogSumExp != 0 && Mma.AccumulatorColumn(lane, 0) == 0)
        {
            if (query < a.Queries) logSumExp[bh * a.Queries + query] = Max.Low + MathF.Log(sum.Low);
            if (query + 8 < a.Queries) logSumExp[bh * a.Queries + query + 8] = Max.High + MathF.Log(sum.High);
        }
        return (new RowPair(1f / sum.Low, 1f / sum.High), low, high);
    }

    /// <summary>exp(previous − next): how much a row's earlier sums shrink when its max grows (1 while nothing is visible).</summary>
    private static float Correction(float previous, float next) => next == float.NegativeInfinity ? 1f : MathF.Exp(previous - next);
}
