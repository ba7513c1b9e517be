using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>How a thread's consecutive elements of one head row become the four shared words it stores.</summary>
internal interface IWholeRowWords
{
    /// <summary>Consecutive elements of a row a thread takes per pass: 4 (TF32 words) or 8 (BF16 pair words).</summary>
    int Elements { get; }

    /// <summary>The elements of one pass, from quad <paramref name="index"/> of <paramref name="from"/> on.</summary>
    Octet Load(ArrayView<Quad> from, int index);

    /// <summary>
    /// Whether words of the <paramref name="passes"/> passes of <paramref name="loaded"/> need the rounding that tests each
    /// element for a NaN: false where they hold numbers only, or where the words take no such test.
    /// </summary>
    bool NeedNanTest(in RowsInFlight loaded, int passes);

    /// <summary>The four words of one pass's elements; <paramref name="exact"/>: with each element's NaN test.</summary>
    Quad Words(in Octet x, bool exact);
}

/// <summary>
/// Four elements rounded to TF32, one word each. Where no element a thread staged is a NaN (their sum is not one), each
/// rounds without its NaN test (<see cref="TensorCoreRounding.NumberTf32"/>, as the GEMMs' staging does); else each with
/// it. The same bits either way.
/// </summary>
internal readonly struct Tf32Words : IWholeRowWords
{
    public int Elements => 4;

    public Octet Load(ArrayView<Quad> from, int index) => new(from[index], default);

    public bool NeedNanTest(in RowsInFlight loaded, int passes)
    {
        float sum = Sum(loaded.P0.Low);
        if (passes > 1) sum += Sum(loaded.P1.Low);
        if (passes > 2) sum += Sum(loaded.P2.Low) + Sum(loaded.P3.Low);
        if (passes > 4) sum += (Sum(loaded.P4.Low) + Sum(loaded.P5.Low)) + (Sum(loaded.P6.Low) + Sum(loaded.P7.Low));
        return float.IsNaN(sum);
    }

    public Quad Words(in Octet x, bool exact)
    {
        var q = x.Low;
        if (exact)
            return new Quad(TensorCoreRounding.Tf32(q.X), TensorCoreRounding.Tf32(q.Y), TensorCoreRounding.Tf32(q.Z),
                TensorCoreRounding.Tf32(q.W));
        return new Quad(TensorCoreRounding.NumberTf32(q.X), TensorCoreRounding.NumberTf32(q.Y), TensorCoreRounding.NumberTf32(q.Z),
            TensorCoreRounding.NumberTf32(q.W));
    }

    private static float Sum(Quad q) => (q.X + q.Y) + (q.Z + q.W);
}

/// <summary>Eight elements as four BF16 pair words, the lower element of each pair in the low half.</summary>
internal readonly struct Bf16PairWords : IWholeRowWords
{
    public int Elements => 8;

    public Octet Load(ArrayView<Quad> from, int index) => new(from[index], from[index + 1]);

    /// <summary>Never: <c>cvt.rn.bf16x2</c> keeps NaNs NaNs.</summary>
    public bool NeedNanTest(in RowsInFlight loaded, int passes) => false;

    public Quad Words(in Octet x, bool exact)
    {
        Quad low = x.Low, high = x.High;
        return new Quad(Bf16Fragments.Pack(low.X, low.Y), Bf16Fragments.Pack(low.Z, low.W), Bf16Fragments.Pack(high.X, high.Y),
            Bf16Fragments.Pack(high.Z, high.W));
    }
}

/// <summary>Eight floats in registers: the elements of one staging pass (a TF32 pass uses <see cref="Low"/> only).</summary>
internal readonly struct Octet(Quad low, Quad high)
{
    public readonly Quad Low = low, High = high;
}

/// <summary>
/// A thread's loads of a whole tile, up to eight passes (<see cref="WholeRowStaging.Load{TWords}"/>), held in registers until
/// they are stored: plain fields, since ILGPU keeps an indexed array in local memory.
/// </summary>
internal struct RowsInFlight
{
    public Octet P0, P1, P2, P3, P4, P5, P6, P7;
}

/// <summary>Where a head's rows lie in global memory: row r at View[Start + r·RowStride].</summary>
internal readonly record struct RowSource(ArrayView<float> View, int Start, int RowStride);

/// <summary>
/// Staging of a head tile wholly inside the sequence, <c>width</c> (32, 64 or 128) consecutive columns of head rows that
/// start on 16 bytes (<see cref="AttentionArguments.VectorRows"/>): each thread loads its
/// <see cref="IWholeRowWords.Elements"/> consecutive columns of a row with 16-byte loads and stores their four words with
/// one 16-byte store (<c>offset</c> and <c>stride</c> multiples of 4), in 1 to 8 passes written out, so that all of a
/// tile's loads are in flight at once (ILGPU does not unroll loops). A quarter-warp stores 32 consecutive words of a row,
/// no bank conflict, except at 32 columns of BF16 pairs: there it stores 16 words of each of two rows, which meet in 12
/// banks at the wide heads' stride of 68 words.
/// </summary>
internal static class WholeRowStaging
{
    /// <summary>
    /// Rows first .. first + <paramref name="rows"/> of a head (row r at source[start + (first + r)·rowStride + col]) as
    /// shared[offset + r·stride + w], by <paramref name="threads"/> threads: <see cref="Load{TWords}"/>, then
    /// <see cref="Store{TWords}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Stage<TWords>(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int rows, int threads, int width)
        where TWords : struct, IWholeRowWords =>
        Store<TWords>(Load<TWords>(source, start, rowStride, first, rows, threads, width), shared, offset, stride, rows, threads,
            width);

    /// <summary>
    /// <see cref="Stage{TWords}"/> of the same rows of two operands (<paramref name="firstRows"/> at
    /// <paramref name="firstOffset"/> with <paramref name="firstStride"/>, then <paramref name="secondRows"/>), both
    /// operands' loads in flight before either is stored: one wait on global memory, where two stagings would take two.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StagePair<TWords>(ArrayView<float> shared, in RowSource firstRows, int firstOffset, int firstStride,
        in RowSource secondRows, int secondOffset, int secondStride, int first, int rows, int threads, int width)
        where TWords : struct, IWholeRowWords
    {
        var firstLoaded = Load<TWords>(firstRows.View, firstRows.Start, firstRows.RowStride, first, rows, threads, width);
        var secondLoaded = Load<TWords>(secondRows.View, secondRows.Start, secondRows.RowStride, first, rows, threads, width);
        Store<TWords>(firstLoaded, shared, firstOffset, firstStride, rows, threads, width);
        Store<TWords>(secondLoaded, shared, secondOffset, secondStride, rows, threads, width);
    }

    /// <summary>
    /// A thread's share of rows first .. first + <paramref name="rows"/> of a head, <paramref name="rows"/>·width /
    /// (Elements·threads) passes: 1, 2, 4 or 8 (every count a constant where the kernels call it, so the checks fold away).
    /// Every load is issued before any is used: a staging that rounded each pass before the next pass's load (a branch on
    /// its NaN test between them, which ptxas would not move a load across) waited out a global-memory latency per pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RowsInFlight Load<TWords>(ArrayView<float> source, int start, int rowStride, int first, int rows, int threads,
        int width)
        where TWords : struct, IWholeRowWords
    {
        var words = default(TWords);
        var (row, group, rowsPerPass, passes) = Passes<TWords>(rows, threads, width);
        var from = source.SubView(start + (first + row) * rowStride + words.Elements * group).Cast<Quad>().AsAligned(16);
        int passQuads = rowsPerPass * rowStride / 4;
        var loaded = default(RowsInFlight);
        loaded.P0 = words.Load(from, 0);
        if (passes > 1) loaded.P1 = words.Load(from, passQuads);
        if (passes > 2)
        {
            loaded.P2 = words.Load(from, 2 * passQuads);
            loaded.P3 = words.Load(from, 3 * passQuads);
        }
        if (passes > 4)
        {
            loaded.P4 = words.Load(from, 4 * passQuads);
            loaded.P5 = words.Load(from, 5 * passQuads);
            loaded.P6 = words.Load(from, 6 * passQuads);
            loaded.P7 = words.Load(from, 7 * passQuads);
        }
        return loaded;
    }

    /// <summary>
    /// Stores what <see cref="Load{TWords}"/> loaded with the same <paramref name="rows"/>, <paramref name="threads"/> and
    /// <paramref name="width"/>: each pass's four words with one 16-byte store (<paramref name="offset"/> and
    /// <paramref name="stride"/> multiples of 4), with one test for NaNs over all of them where the words need one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<TWords>(in RowsInFlight loaded, ArrayView<float> shared, int offset, int stride, int rows, int threads,
        int width)
        where TWords : struct, IWholeRowWords
    {
        var words = default(TWords);
        var (row, group, rowsPerPass, passes) = Passes<TWords>(rows, threads, width);
        var to = shared.SubView(offset + row * stride + 4 * group).Cast<Quad>().AsAligned(16);
        int passWords = rowsPerPass * stride / 4;
        if (words.NeedNanTest(loaded, passes))
            Write<TWords>(loaded, to, passes, passWords, exact: true);
        else
            Write<TWords>(loaded, to, passes, passWords, exact: false);
    }

    /// <summary>
    /// <see cref="Stage{TWords}"/> for a wide head of 96 or 128 <paramref name="columns"/>
    /// (<see cref="WideHeadFragments.StagesWhole"/>) staged 128 wide: its first 64 columns, then the 32 or 64 after them
    /// (the words of 64 columns on). Columns past a head of 96 are left as they are: no product of the wide kernels reads
    /// them at that width (their k-steps and output fragments lie wholly past the head).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageWide<TWords>(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int rows, int threads, int columns)
        where TWords : struct, IWholeRowWords
    {
        const int half = AttentionFragments.HeadWidth;
        int halfWords = 4 * half / default(TWords).Elements; // 64 TF32 words or 32 BF16 pair words
        Stage<TWords>(shared, offset, stride, source, start, rowStride, first, rows, threads, half);
        if (columns == WideHeadFragments.HeadWidth)
            Stage<TWords>(shared, offset + halfWords, stride, source, start + half, rowStride, first, rows, threads, half);
        else
            Stage<TWords>(shared, offset + halfWords, stride, source, start + half, rowStride, first, rows, threads, half / 2);
    }

    /// <summary>
    /// How <paramref name="threads"/> threads share <paramref name="rows"/> of <paramref name="width"/> columns: this
    /// thread's first row and its group of Elements columns, the rows of a pass, and the passes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Row, int Group, int RowsPerPass, int Passes) Passes<TWords>(int rows, int threads, int width)
        where TWords : struct, IWholeRowWords
    {
        int groups = width / default(TWords).Elements, rowsPerPass = threads / groups;
        return (Group.IdxX / groups, Group.IdxX & (groups - 1), rowsPerPass, rows / rowsPerPass);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write<TWords>(in RowsInFlight loaded, ArrayView<Quad> to, int passes, int passWords, bool exact)
        where TWords : struct, IWholeRowWords
    {
        var words = default(TWords);
        to[0] = words.Words(loaded.P0, exact);
        if (passes > 1) to[passWords] = words.Words(loaded.P1, exact);
        if (passes > 2)
        {
            to[2 * passWords] = words.Words(loaded.P2, exact);
            to[3 * passWords] = words.Words(loaded.P3, exact);
        }
        if (passes > 4)
        {
            to[4 * passWords] = words.Words(loaded.P4, exact);
            to[5 * passWords] = words.Words(loaded.P5, exact);
            to[6 * passWords] = words.Words(loaded.P6, exact);
            to[7 * passWords] = words.Words(loaded.P7, exact);
        }
    }
}
