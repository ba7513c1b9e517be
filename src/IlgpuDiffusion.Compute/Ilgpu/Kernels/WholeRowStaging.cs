using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>How a thread's consecutive elements of one head row become the four shared words it stores.</summary>
internal interface IWholeRowWords
{
    /// <summary>Consecutive elements of a row a thread takes per pass: 4 (TF32 words) or 8 (BF16 pair words).</summary>
    int Elements { get; }

    /// <summary>The four words of the elements from quad <paramref name="index"/> of <paramref name="from"/> on.</summary>
    Quad Words(ArrayView<Quad> from, int index);
}

/// <summary>
/// Four elements rounded to TF32, one word each: where their sum is not a NaN, none of them is one, and each rounds without
/// its NaN test (<see cref="TensorCoreRounding.NumberTf32"/>, as the GEMMs' staging does); else each with it. The same
/// bits either way.
/// </summary>
internal readonly struct Tf32Words : IWholeRowWords
{
    public int Elements => 4;

    public Quad Words(ArrayView<Quad> from, int index)
    {
        var x = from[index];
        if (!float.IsNaN((x.X + x.Y) + (x.Z + x.W)))
            return new Quad(TensorCoreRounding.NumberTf32(x.X), TensorCoreRounding.NumberTf32(x.Y), TensorCoreRounding.NumberTf32(x.Z),
                TensorCoreRounding.NumberTf32(x.W));
        return new Quad(TensorCoreRounding.Tf32(x.X), TensorCoreRounding.Tf32(x.Y), TensorCoreRounding.Tf32(x.Z),
            TensorCoreRounding.Tf32(x.W));
    }
}

/// <summary>Eight elements as four BF16 pair words, the lower element of each pair in the low half.</summary>
internal readonly struct Bf16PairWords : IWholeRowWords
{
    public int Elements => 8;

    public Quad Words(ArrayView<Quad> from, int index)
    {
        Quad low = from[index], high = from[index + 1];
        return new Quad(Bf16Fragments.Pack(low.X, low.Y), Bf16Fragments.Pack(low.Z, low.W), Bf16Fragments.Pack(high.X, high.Y),
            Bf16Fragments.Pack(high.Z, high.W));
    }
}

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
    /// shared[offset + r·stride + w], by <paramref name="threads"/> threads; <paramref name="rows"/>·width / (Elements·
    /// threads) passes: 1, 2, 4 or 8 (every count a constant where the kernels call it, so the checks fold away).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Stage<TWords>(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int rows, int threads, int width)
        where TWords : struct, IWholeRowWords
    {
        int elements = default(TWords).Elements, groups = width / elements, rowsPerPass = threads / groups;
        int row = Group.IdxX / groups, group = Group.IdxX & (groups - 1);
        var from = source.SubView(start + (first + row) * rowStride + elements * group).Cast<Quad>().AsAligned(16);
        var to = shared.SubView(offset + row * stride + 4 * group).Cast<Quad>().AsAligned(16);
        int passQuads = rowsPerPass * rowStride / 4, passWords = rowsPerPass * stride / 4;
        Pass<TWords>(from, to, 0, passQuads, passWords);
        if (rows <= rowsPerPass) return;
        Pass<TWords>(from, to, 1, passQuads, passWords);
        if (rows <= 2 * rowsPerPass) return;
        Pass<TWords>(from, to, 2, passQuads, passWords);
        Pass<TWords>(from, to, 3, passQuads, passWords);
        if (rows <= 4 * rowsPerPass) return;
        Pass<TWords>(from, to, 4, passQuads, passWords);
        Pass<TWords>(from, to, 5, passQuads, passWords);
        Pass<TWords>(from, to, 6, passQuads, passWords);
        Pass<TWords>(from, to, 7, passQuads, passWords);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pass<TWords>(ArrayView<Quad> from, ArrayView<Quad> to, int pass, int passQuads, int passWords)
        where TWords : struct, IWholeRowWords =>
        to[pass * passWords] = default(TWords).Words(from, pass * passQuads);
}
