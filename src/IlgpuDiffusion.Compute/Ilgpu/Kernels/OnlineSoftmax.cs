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
        var sum = new RowPair(WarpProducts.QuadSum(Sum.Low), WarpProducts.QuadSum(Sum.High));
        int b = bh / a.Heads, h = bh - b * a.Heads;
        int row = a.Heads * columns, first = (b * a.Queries * a.Heads + h) * columns;
        int low = query < a.Queries ? first + query * row : -1, high = query + 8 < a.Queries ? first + (query + 8) * row : -1;
        AttentionFragments.Write(o, new RowPair(1f / sum.Low, 1f / sum.High), output, low, high, columns, accumulate: false,
            lane);
        if (a.WriteLogSumExp == 0 || Mma.AccumulatorColumn(lane, 0) != 0) return;
        if (query < a.Queries) logSumExp[bh * a.Queries + query] = Max.Low + MathF.Log(sum.Low);
        if (query + 8 < a.Queries) logSumExp[bh * a.Queries + query + 8] = Max.High + MathF.Log(sum.High);
    }

    /// <summary>exp(previous − next): how much a row's earlier sums shrink when its max grows (1 while nothing is visible).</summary>
    private static float Correction(float previous, float next) => next == float.NegativeInfinity ? 1f : MathF.Exp(previous - next);
}
