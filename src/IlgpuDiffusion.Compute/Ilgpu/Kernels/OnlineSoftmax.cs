using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The online softmax of a tensor-core attention forward (FlashAttention-2, arXiv 2307.08691) for the two rows a lane
/// holds: the running max of the unscaled scores (the same on the 4 lanes of a quad) and the lane's share of the running
/// sum of exp(Scale·(score − max)), reduced over the quad once at the end. As in FlashAttention-2 the exponent is taken
/// in base 2 with the scale folded in (<see cref="FastExp2"/>): p = 2^(score·ScaleLog2 − Shift), Shift = max·ScaleLog2.
/// Plain fields: registers.
/// </summary>
internal struct OnlineSoftmax
{
    public RowPair Max, Sum;

    /// <summary>Each row's max·<see cref="ScaleLog2"/> (0 while nothing is visible), what the exponents subtract.</summary>
    public RowPair Shift;

    /// <summary>The scores' scale times log₂ e.</summary>
    public float ScaleLog2;

    /// <summary>Nothing seen yet: max −∞, sum 0, for scores to be multiplied by <paramref name="scale"/> (positive).</summary>
    public static OnlineSoftmax Start(float scale) => new()
    {
        Max = new RowPair(float.NegativeInfinity, float.NegativeInfinity),
        ScaleLog2 = scale * FastExp2.Log2E,
    };

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
    /// The keys before which every tile of <paramref name="tileK"/> keys is wholly visible to every query of a tile of
    /// <paramref name="tileQ"/> rows from <paramref name="q0"/> (<see cref="AttentionFragments.AllVisible"/> of each): a
    /// multiple of <paramref name="tileK"/>, 0 where the query tile runs past the queries.
    /// </summary>
    public static int VisibleEnd(in AttentionArguments a, int q0, int tileQ, int tileK)
    {
        int seen = a.Causal != 0 ? AttentionKernels.XMin(a.Keys, a.FirstPosition + q0 + 1) : a.Keys;
        return q0 + tileQ <= a.Queries ? seen / tileK * tileK : 0;
    }

    /// <summary>
    /// Takes a tile's lane-local row maxima: the rows' max grows to the quad's largest, and the returned factors are how
    /// much the earlier sum and output shrink (1 while nothing is visible). The caller then exponentiates against
    /// <see cref="Shift"/>, scales its output by the factors and <see cref="Add"/>s the tile's sums.
    /// </summary>
    public RowPair Advance(RowPair tileMax)
    {
        var next = new RowPair(WarpProducts.Max(Max.Low, WarpProducts.QuadMax(tileMax.Low)),
            WarpProducts.Max(Max.High, WarpProducts.QuadMax(tileMax.High)));
        var shift = new RowPair(ShiftOf(next.Low), ShiftOf(next.High));
        var correction = new RowPair(Correction(Max.Low, next.Low, shift.Low), Correction(Max.High, next.High, shift.High));
        Max = next;
        Shift = shift;
        return correction;
    }

    /// <summary>
    /// One tile of a TF32 forward's 16 × 32 scores, keys <paramref name="k0"/>..: masks them (without the checks
    /// when the warp's tile is wholly <paramref name="visible"/>), advances the rows' max and sum, and stores the
    /// probabilities rounded to TF32 in the warp's slab at word <paramref name="slab"/> for P·V (no barrier). Returns the
    /// factors the output accumulated so far is to be scaled by.
    /// </summary>
    public RowPair ToSlab(ref Fragments4 s, in AttentionArguments a, int query, int k0, bool visible, ArrayView<float> shared,
        int slab, int lane)
    {
        AttentionFragments.Mask(ref s.F0, a, query, k0, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F1, a, query, k0 + 8, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F2, a, query, k0 + 16, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F3, a, query, k0 + 24, visible, keysAreRows: false, lane);
        var correction = Advance(AttentionFragments.Max(s));
        var p0 = AttentionFragments.Exponentiate(ref s.F0, Shift, ScaleLog2);
        var p1 = AttentionFragments.Exponentiate(ref s.F1, Shift, ScaleLog2);
        var p2 = AttentionFragments.Exponentiate(ref s.F2, Shift, ScaleLog2);
        var p3 = AttentionFragments.Exponentiate(ref s.F3, Shift, ScaleLog2);
        var tileSum = new RowPair(p0.Low + p1.Low + p2.Low + p3.Low, p0.High + p1.High + p2.High + p3.High);
        Add(correction, tileSum);
        AttentionFragments.Store(s, shared, slab, lane, tileSum.Low + tileSum.High);
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
            if (query < a.Queries) logSumExp[bh * a.Queries + query] = Max.Low * a.Scale + MathF.Log(sum.Low);
            if (query + 8 < a.Queries) logSumExp[bh * a.Queries + query + 8] = Max.High * a.Scale + MathF.Log(sum.High);
        }
        return (new RowPair(1f / sum.Low, 1f / sum.High), low, high);
    }

    /// <summary>A row's <see cref="Shift"/> for its max <paramref name="max"/>: 0 while nothing is visible (max −∞).</summary>
    private readonly float ShiftOf(float max) => max == float.NegativeInfinity ? 0f : max * ScaleLog2;

    /// <summary>
    /// exp(Scale·(previous − next)): how much a row's earlier sums shrink when its max grows from
    /// <paramref name="previous"/> to <paramref name="next"/> (whose shift is <paramref name="shift"/>); 1 while nothing is
    /// visible, 0 when the first visible score arrives.
    /// </summary>
    private readonly float Correction(float previous, float next, float shift) =>
        next == float.NegativeInfinity ? 1f : FastExp2.Of(previous * ScaleLog2 - shift);
}
