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

/// <summary>Four elements rounded to TF32, one word each.</summary>
internal readonly struct Tf32Words : IWholeRowWords
{
    public int Elements => 4;

    public Quad Words(ArrayView<Quad> from, int index)
    {
        var x = from[index];
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
/// Staging of a head tile wholly inside the sequence, <c>width</c> (64 or 128) columns of a head that is as wide, whose
/// rows start on 16 bytes (<see cref="AttentionArguments.VectorRows"/>): each thread loads its
/// <see cref="IWholeRowWords.Elements"/> consecutive columns of a row with 16-byte loads and stores their four words with
/// one 16-byte store (<c>offset</c> and <c>stride</c> multiples of 4), in 4 or 8 passes written out, so that all of a
/// tile's loads are in flight at once (ILGPU does not unroll loops). A quarter-warp stores 32 consecutive words of a row:
/// no bank conflict.
/// </summary>
internal static class WholeRowStaging
{
    /// <summary>
    /// Rows first .. first + <paramref name="rows"/> of a head (row r at source[start + (first + r)·rowStride + col]) as
    /// shared[offset + r·stride + w], by <paramref name="threads"/> threads; <paramref name="rows"/>·width / (Elements·
    /// threads) passes, 4 or 8.
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
        Pass<TWords>(from, to, 1, passQuads, passWords);
        Pass<TWords>(from, to, 2, passQuads, passWords);
        Pass<TWords>(from, to, 3, passQuads, passWords);
        if (rows <= 4 * rowsPerPass) return;
        Pass<TWords>(from, to, 4, passQuads, passWords);
        Pass<TWords>(from, to, 5, passQuads, passWords);
        Pass<TWords>(from, to, 6, passQuads, passWords);
        Pass<TWords>(from, to, 7, passQuads, passWords);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pass<TWords>(ArrayView<Quad> from, ArrayView<Quad> to, int pass, int passQuads, int passWords)
        where TWords : struct, IWholeRowWords =>
        to[pass * passWords] = default(TWords).Words(from, pass * passQuads);
}
