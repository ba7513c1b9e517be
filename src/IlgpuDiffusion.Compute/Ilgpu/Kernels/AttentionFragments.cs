using System.Runtime.CompilerServices;
using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// A value for each of the two rows a lane holds in a warp's 16-row fragments: Low for row g (registers C0, C1), High
/// for row g + 8 (C2, C3).
/// </summary>
internal struct RowPair
{
    public float Low, High;

    public RowPair(float low, float high)
    {
        Low = low;
        High = high;
    }
}

/// <summary>Rows of a head staged in shared memory (Q, K, V, dO), padded to 68 words: lines are tokens, k head columns.</summary>
internal readonly struct HeadRows : IOperandStrides
{
    public int Line => AttentionFragments.HeadStride;

    public int K => 1;
}

/// <summary>The same rows read transposed: lines are head columns, k tokens.</summary>
internal readonly struct HeadColumns : IOperandStrides
{
    public int Line => 1;

    public int K => AttentionFragments.HeadStride;
}

/// <summary>
/// Head rows read transposed as the forward's V and the query pass's K are, padded to 72 words so that the reads (k t,
/// line g) hit distinct banks: lines are head columns, k keys.
/// </summary>
internal readonly struct ValueColumns : IOperandStrides
{
    public int Line => 1;

    public int K => AttentionFragments.TransposedHeadStride;
}

/// <summary>A warp's 16 × 32 slab of P or dS, rows padded to 36 words: lines are the warp's rows, k the tile's columns.</summary>
internal readonly struct SlabRows : IOperandStrides
{
    public int Line => AttentionFragments.SlabStride;

    public int K => 1;
}

/// <summary>
/// The per-fragment steps the tensor-core attention kernels share (<see cref="TensorCoreAttentionKernels"/>,
/// <see cref="TensorCoreAttentionBackwardKernels"/>): staging head rows into shared memory rounded to TF32,
/// masking scores, turning them into probabilities (in base 2, <see cref="FastExp2"/>), and writing a warp's 16 × 64
/// results out. A fragment's register r sits at row <see cref="Mma.AccumulatorRow"/> and column
/// <see cref="Mma.AccumulatorColumn"/> of its 16 × 8 tile. Heads narrower than <see cref="HeadWidth"/> are staged with
/// zero columns after theirs (<see cref="Fits"/>): a zero column adds nothing to Q·Kᵀ, gives zero output columns, and
/// those are not written. The products skip the k-steps of Q·Kᵀ-like sums that lie wholly in the padding, and output
/// fragments past 32 columns where the head ends before.
/// </summary>
internal static class AttentionFragments
{
    /// <summary>The head width the tensor-core attention kernels stage and multiply: 64 columns.</summary>
    public const int HeadWidth = 64;

    /// <summary>Words between staged head rows: 68, so that fragment reads (line g, k t) hit distinct banks.</summary>
    public const int HeadStride = HeadWidth + 4;

    /// <summary>Words between head rows that are read transposed (<see cref="ValueColumns"/>): 72.</summary>
    public const int TransposedHeadStride = HeadWidth + 8;

    /// <summary>
    /// Whether heads of <paramref name="headDim"/> columns run on the tensor-core kernels: multiples of 8 up to
    /// <see cref="HeadWidth"/>, so that each 8-column output fragment is wholly inside the head or wholly padding.
    /// </summary>
    public static bool Fits(int headDim) => headDim > 0 && headDim <= HeadWidth && headDim % 8 == 0;

    /// <summary>Words between the rows of a warp's 16 × 32 slab (P, dS).</summary>
    public const int SlabStride = 32 + 4;

    /// <summary>Words of a warp's slab.</summary>
    public const int Slab = 16 * SlabStride;

    /// <summary>
    /// The row limit this thread passes to the staging of head rows (and of BF16 head columns, which map threads to columns
    /// alike) for a head of <paramref name="columns"/>: <paramref name="limit"/> where the thread's
    /// column is inside the head, 0 where it is padding, which then stages zeros. Computed once per kernel, outside its
    /// loop, so that staging a head of 64 costs what it did before narrower heads were taken.
    /// </summary>
    public static int StagingLimit(int limit, int columns) => StagingLimit(limit, columns, HeadWidth);

    /// <summary><see cref="StagingLimit(int, int)"/> for a stage <paramref name="width"/> columns wide (a power of two).</summary>
    public static int StagingLimit(int limit, int columns, int width) => (Group.IdxX & (width - 1)) < columns ? limit : 0;

    /// <summary>
    /// Stages rows first .. first+count of a head (row r at source[start + (first + r)·rowStride + col], col &lt;
    /// <see cref="HeadWidth"/>) rounded to TF32 as shared[offset + r·stride + col], zeros from row <paramref name="limit"/>
    /// on (from row 0 on in a padding column: <see cref="StagingLimit(int, int)"/>). All <paramref name="threads"/> threads of the
    /// group take part (a multiple of <see cref="HeadWidth"/>, and a constant at every call: each thread keeps one column
    /// and steps by whole rows, so every offset past its first is a constant of the unrolled loop, and a tile wholly inside
    /// the sequence skips the row checks); no barrier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageRows(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start, int rowStride,
        int first, int count, int limit, int threads) =>
        StageRows(shared, offset, stride, source, start, rowStride, first, count, limit, threads, HeadWidth);

    /// <summary>
    /// <see cref="StageRows(ArrayView{float}, int, int, ArrayView{float}, int, int, int, int, int, int)"/> for a stage
    /// <paramref name="width"/> columns wide (a power of two, a constant at every call; <paramref name="threads"/> a multiple of it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageRows(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start, int rowStride,
        int first, int count, int limit, int threads, int width)
    {
        int rowsPerPass = threads / width, row = Group.IdxX / width, column = Group.IdxX & (width - 1);
        int from = start + (first + row) * rowStride + column, to = offset + row * stride + column;
        if (first + count <= limit)
        {
            for (int r = 0; r < count; r += rowsPerPass)
                shared[to + r * stride] = TensorCoreRounding.Tf32(source[from + r * rowStride]);
            return;
        }
        for (int r = 0; r < count; r += rowsPerPass)
            shared[to + r * stride] = first + row + r < limit ? TensorCoreRounding.Tf32(source[from + r * rowStride]) : 0f;
    }

    /// <summary>
    /// <see cref="StageRows(ArrayView{float}, int, int, ArrayView{float}, int, int, int, int, int, int, int)"/> for a tile
    /// wholly inside the sequence of an aligned head of <paramref name="width"/> columns (64 or 128): four columns a thread,
    /// rounded to TF32, in passes of 16-byte loads and stores (<see cref="WholeRowStaging"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageWholeRows(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int rows, int threads, int width) =>
        WholeRowStaging.Stage<Tf32Words>(shared, offset, stride, source, start, rowStride, first, rows, threads, width);

    /// <summary>
    /// Scores of one fragment set to −∞ where the pair is not visible, left as they are elsewhere (unscaled: the scale enters
    /// with the exponent, <see cref="Exponentiate"/>); nothing to do when the warp's whole tile is <paramref name="visible"/>.
    /// Row g holds <paramref name="row"/> (row g + 8 the next 8 on), the fragment's first column is <paramref name="column"/>;
    /// rows are queries and columns keys, or with <paramref name="keysAreRows"/> (the key pass's transposed scores) the other
    /// way round.
    /// </summary>
    public static void Mask(ref MmaAccumulator s, in AttentionArguments a, int row, int column, bool visible, bool keysAreRows,
        int lane)
    {
        if (visible) return;
        int c = column + Mma.AccumulatorColumn(lane, 0);
        s.C0 = Visible(a, row, c, keysAreRows) ? s.C0 : float.NegativeInfinity;
        s.C1 = Visible(a, row, c + 1, keysAreRows) ? s.C1 : float.NegativeInfinity;
        s.C2 = Visible(a, row + 8, c, keysAreRows) ? s.C2 : float.NegativeInfinity;
        s.C3 = Visible(a, row + 8, c + 1, keysAreRows) ? s.C3 : float.NegativeInfinity;
    }

    /// <summary>
    /// Whether every query of <paramref name="firstQuery"/> .. + <paramref name="queries"/> − 1 sees every key of
    /// <paramref name="firstKey"/> .. + <paramref name="keys"/> − 1: the last key is visible from the first query (causal:
    /// the tightest pair) and the last query exists.
    /// </summary>
    public static bool AllVisible(in AttentionArguments a, int firstQuery, int queries, int firstKey, int keys) =>
        a.Visible(firstQuery, firstKey + keys - 1) && firstQuery + queries - 1 < a.Queries;

    /// <summary>The largest score of each of the lane's two rows in four fragments (this lane's columns only).</summary>
    public static RowPair Max(in Fragments4 s) => new(
        WarpProducts.Max(WarpProducts.Max(WarpProducts.Max(s.F0.C0, s.F0.C1), WarpProducts.Max(s.F1.C0, s.F1.C1)),
            WarpProducts.Max(WarpProducts.Max(s.F2.C0, s.F2.C1), WarpProducts.Max(s.F3.C0, s.F3.C1))),
        WarpProducts.Max(WarpProducts.Max(WarpProducts.Max(s.F0.C2, s.F0.C3), WarpProducts.Max(s.F1.C2, s.F1.C3)),
            WarpProducts.Max(WarpProducts.Max(s.F2.C2, s.F2.C3), WarpProducts.Max(s.F3.C2, s.F3.C3))));

    /// <summary>
    /// p = 2^(score·<paramref name="scaleLog2"/> − shift) = exp(Scale·score − shift·ln 2), in place, for one fragment's
    /// unscaled scores (<see cref="FastExp2"/>; 0 where the score is −∞); returns the sums of each row's two values.
    /// Unrounded: the sums and the log-sum-exp stay fp32-exact; <see cref="Store"/> rounds the operand copy (FlashAttention-2
    /// likewise sums before converting P).
    /// </summary>
    public static RowPair Exponentiate(ref MmaAccumulator s, RowPair shift, float scaleLog2)
    {
        s.C0 = FastExp2.Of(s.C0 * scaleLog2 - shift.Low);
        s.C1 = FastExp2.Of(s.C1 * scaleLog2 - shift.Low);
        s.C2 = FastExp2.Of(s.C2 * scaleLog2 - shift.High);
        s.C3 = FastExp2.Of(s.C3 * scaleLog2 - shift.High);
        return new RowPair(s.C0 + s.C1, s.C2 + s.C3);
    }

    /// <summary>
    /// As <see cref="Exponentiate"/> with a shift per column instead of per row (the key-owned backward pass, whose
    /// fragments hold keys as rows and queries as columns): <paramref name="shifts"/>[column] for the fragment's columns
    /// from <paramref name="column"/> on, each a query's log-sum-exp in base 2 (<see cref="BackwardFragments.Shift"/>).
    /// </summary>
    public static void ExponentiateColumns(ref MmaAccumulator s, ArrayView<float> shifts, int column, float scaleLog2, int lane)
    {
        int c = column + Mma.AccumulatorColumn(lane, 0);
        float shift0 = shifts[c], shift1 = shifts[c + 1];
        s.C0 = FastExp2.Of(s.C0 * scaleLog2 - shift0);
        s.C1 = FastExp2.Of(s.C1 * scaleLog2 - shift1);
        s.C2 = FastExp2.Of(s.C2 * scaleLog2 - shift0);
        s.C3 = FastExp2.Of(s.C3 * scaleLog2 - shift1);
    }

    /// <summary>
    /// dS = P ∘ (dP − D) in place of dP for the key pass's fragments (keys as rows), D per query column:
    /// <paramref name="rowDots"/>[column] from <paramref name="column"/> on.
    /// </summary>
    public static void ScoreGradientColumns(in MmaAccumulator p, ref MmaAccumulator dp, ArrayView<float> rowDots, int column, int lane)
    {
        int c = column + Mma.AccumulatorColumn(lane, 0);
        float d0 = rowDots[c], d1 = rowDots[c + 1];
        dp.C0 = p.C0 * (dp.C0 - d0);
        dp.C1 = p.C1 * (dp.C1 - d1);
        dp.C2 = p.C2 * (dp.C2 - d0);
        dp.C3 = p.C3 * (dp.C3 - d1);
    }

    /// <summary>
    /// Stores the four fragments of <paramref name="s"/> at columns 0, 8, 16 and 24 of the warp's slab at word
    /// <paramref name="slab"/>, rounded to TF32 for use as an operand (<see cref="StoreRows"/>).
    /// </summary>
    public static void Store(in Fragments4 s, ArrayView<float> shared, int slab, int lane, float sum) =>
        StoreRows(s, shared, slab + Mma.AccumulatorRow(lane, 0) * SlabStride, SlabStride, lane, sum);

    /// <summary>The sum of a lane's 16 values in four fragments.</summary>
    public static float Sum(in Fragments4 s) =>
        ((s.F0.C0 + s.F0.C1) + (s.F0.C2 + s.F0.C3)) + ((s.F1.C0 + s.F1.C1) + (s.F1.C2 + s.F1.C3))
        + (((s.F2.C0 + s.F2.C1) + (s.F2.C2 + s.F2.C3)) + ((s.F3.C0 + s.F3.C1) + (s.F3.C2 + s.F3.C3)));

    /// <summary>
    /// Stores four fragments rounded to TF32 at columns 0, 8, 16 and 24 of row-major rows <paramref name="stride"/> words
    /// apart, the lane's row g starting at <paramref name="row"/>, with one NaN test for all of them: on
    /// <paramref name="sum"/>, the sum of their 16 values (<see cref="Sum"/>), which a NaN among them makes a NaN. Where it
    /// is a number, each value rounds without its own test (<see cref="TensorCoreRounding.NumberTf32"/>); the test matters,
    /// since a GPU's computed NaN (0x7FFFFFFF) would round to −0 without it.
    /// </summary>
    public static void StoreRows(in Fragments4 s, ArrayView<float> target, int row, int stride, int lane, float sum)
    {
        if (!float.IsNaN(sum))
        {
            StoreRounded(s.F0, target, row, stride, 0, lane, exact: false);
            StoreRounded(s.F1, target, row, stride, 8, lane, exact: false);
            StoreRounded(s.F2, target, row, stride, 16, lane, exact: false);
            StoreRounded(s.F3, target, row, stride, 24, lane, exact: false);
            return;
        }
        StoreRounded(s.F0, target, row, stride, 0, lane, exact: true);
        StoreRounded(s.F1, target, row, stride, 8, lane, exact: true);
        StoreRounded(s.F2, target, row, stride, 16, lane, exact: true);
        StoreRounded(s.F3, target, row, stride, 24, lane, exact: true);
    }

    /// <summary>
    /// One fragment of <see cref="StoreRows"/> at columns <paramref name="column"/>.., once the NaN test is made:
    /// <paramref name="exact"/>, each value with its own (<see cref="TensorCoreRounding.Tf32"/>), else none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRounded(in MmaAccumulator f, ArrayView<float> target, int row, int stride, int column, int lane,
        bool exact)
    {
        var at = target.SubView(row + Mma.AccumulatorColumn(lane, 0)); // C0's word
        int below = (Mma.AccumulatorRow(0, 2) - Mma.AccumulatorRow(0, 0)) * stride;
        at[column] = exact ? TensorCoreRounding.Tf32(f.C0) : TensorCoreRounding.NumberTf32(f.C0);
        at[column + 1] = exact ? TensorCoreRounding.Tf32(f.C1) : TensorCoreRounding.NumberTf32(f.C1);
        at[below + column] = exact ? TensorCoreRounding.Tf32(f.C2) : TensorCoreRounding.NumberTf32(f.C2);
        at[below + column + 1] = exact ? TensorCoreRounding.Tf32(f.C3) : TensorCoreRounding.NumberTf32(f.C3);
    }

    /// <summary>Multiplies row g's registers of every fragment by <paramref name="factor"/>.Low, row g + 8's by .High.</summary>
    public static void Scale(ref Fragments8 o, RowPair factor)
    {
        Scale(ref o.F0, factor);
        Scale(ref o.F1, factor);
        Scale(ref o.F2, factor);
        Scale(ref o.F3, factor);
        Scale(ref o.F4, factor);
        Scale(ref o.F5, factor);
        Scale(ref o.F6, factor);
        Scale(ref o.F7, factor);
    }

    /// <summary>
    /// Writes the first <paramref name="columns"/> (a multiple of 8) of a warp's 16 × 64 tile times
    /// <paramref name="factor"/> (per row) to <paramref name="target"/>: row g's values from index <paramref name="low"/>
    /// on, row g + 8's from <paramref name="high"/>, a row skipped where its index is negative; added to what is there when
    /// <paramref name="accumulate"/>.
    /// </summary>
    public static void Write(in Fragments8 o, RowPair factor, ArrayView<float> target, int low, int high, int columns, bool accumulate,
        int lane)
    {
        int column = Mma.AccumulatorColumn(lane, 0);
        Write(o.F0, factor, target, low, high, column, accumulate);
        if (columns > 8) Write(o.F1, factor, target, low, high, column + 8, accumulate);
        if (columns > 16) Write(o.F2, factor, target, low, high, column + 16, accumulate);
        if (columns > 24) Write(o.F3, factor, target, low, high, column + 24, accumulate);
        if (columns > 32) Write(o.F4, factor, target, low, high, column + 32, accumulate);
        if (columns > 40) Write(o.F5, factor, target, low, high, column + 40, accumulate);
        if (columns > 48) Write(o.F6, factor, target, low, high, column + 48, accumulate);
        if (columns > 56) Write(o.F7, factor, target, low, high, column + 56, accumulate);
    }

    private static bool Visible(in AttentionArguments a, int row, int column, bool keysAreRows) =>
        keysAreRows ? a.Visible(column, row) : a.Visible(row, column);

    private static void Scale(ref MmaAccumulator f, RowPair factor)
    {
        f.C0 *= factor.Low;
        f.C1 *= factor.Low;
        f.C2 *= factor.High;
        f.C3 *= factor.High;
    }

    private static void Write(in MmaAccumulator f, RowPair factor, ArrayView<float> target, int low, int high, int column,
        bool accumulate)
    {
        if (low >= 0) Put(target, low + column, f.C0 * factor.Low, f.C1 * factor.Low, accumulate);
        if (high >= 0) Put(target, high + column, f.C2 * factor.High, f.C3 * factor.High, accumulate);
    }

    private static void Put(ArrayView<float> target, int index, float x, float y, bool accumulate)
    {
        if (accumulate)
        {
            x += target[index];
            y += target[index + 1];
        }
        target[index] = x;
        target[index + 1] = y;
    }
}
