using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// A warp's tile of a tensor-core key pass: its row g's key, the query tile's first query, whether all its pairs are
/// visible, and where row g's dSᵀ for the tile goes in the scratch (rows <see cref="ScratchStride"/> apart).
/// </summary>
internal readonly record struct KeyTile(AttentionArguments Arguments, int Key, int Q0, bool Visible, int ScratchRow,
    int ScratchStride);

/// <summary>
/// The steps the tensor-core attention backwards of both precisions share (<see cref="TensorCoreAttentionBackwardKernels"/>,
/// <see cref="TensorCoreAttentionBf16BackwardKernels"/>): a query tile's row statistics, a key-pass fragment's Pᵀ and
/// dSᵀ, and a warp's gradient rows written out.
/// </summary>
internal static class BackwardFragments
{
    /// <summary>
    /// The log-sum-exps in base 2 (<see cref="Shift"/>) and D = rowsum(dO ∘ O) of queries q0 .. q0 + count − 1 of head
    /// <paramref name="bh"/> into shared memory (0 past the sequence); all threads of the group take part; no barrier.
    /// </summary>
    public static void StageRowStatistics(ArrayView<float> shifts, ArrayView<float> rowDots, ArrayView<float> logSumExp,
        ArrayView<float> rowDot, int bh, int tokens, int q0, int count)
    {
        for (int r = Group.IdxX; r < count; r += Group.DimX)
        {
            bool inside = q0 + r < tokens;
            shifts[r] = inside ? Shift(logSumExp[bh * tokens + q0 + r]) : 0f;
            rowDots[r] = inside ? rowDot[bh * tokens + q0 + r] : 0f;
        }
    }

    /// <summary>
    /// What a query's probabilities subtract in base 2, p = 2^(score·Scale·log₂e − shift) = exp(Scale·score −
    /// <paramref name="logSumExp"/>): logSumExp·log₂e, or +∞ for a row that saw nothing (−∞), whose probabilities are 0.
    /// </summary>
    public static float Shift(float logSumExp) =>
        logSumExp == float.NegativeInfinity ? float.PositiveInfinity : logSumExp * FastExp2.Log2E;

    /// <summary>
    /// A warp's four fragments of a key pass (16 keys × 32 queries of its <paramref name="tile"/>): scores to Pᵀ, dPᵀ to dSᵀ,
    /// and dSᵀ stored rounded to TF32 to the <paramref name="scratch"/>. Returns the sum of the lane's 16 dSᵀ values, the
    /// NaN test of their stores (<see cref="AttentionFragments.StoreRows(in Fragments4, ArrayView{float}, int, int, int, float)"/>).
    /// </summary>
    public static float ScoreGradients(ref Fragments4 p, ref Fragments4 dp, ArrayView<float> scratch, in KeyTile tile,
        ArrayView<float> shifts, ArrayView<float> rowDots, int lane)
    {
        ScoreGradientsInRegisters(ref p, ref dp, tile, shifts, rowDots, lane);
        float sum = Sum(dp);
        StoreRows(dp, scratch, tile.ScratchRow, tile.ScratchStride, lane, sum);
        return sum;
    }

    /// <summary><see cref="ScoreGradients"/> without the store: Pᵀ and dSᵀ of the four fragments in their registers.</summary>
    public static void ScoreGradientsInRegisters(ref Fragments4 p, ref Fragments4 dp, in KeyTile tile, ArrayView<float> shifts,
        ArrayView<float> rowDots, int lane)
    {
        FragmentScoreGradients(ref p.F0, ref dp.F0, tile, 0, shifts, rowDots, lane);
        FragmentScoreGradients(ref p.F1, ref dp.F1, tile, 8, shifts, rowDots, lane);
        FragmentScoreGradients(ref p.F2, ref dp.F2, tile, 16, shifts, rowDots, lane);
        FragmentScoreGradients(ref p.F3, ref dp.F3, tile, 24, shifts, rowDots, lane);
    }

    /// <summary>One fragment's Pᵀ and dSᵀ (columns <paramref name="column"/>.. of the tile) in its registers.</summary>
    private static void FragmentScoreGradients(ref MmaAccumulator p, ref MmaAccumulator dp, in KeyTile tile, int column,
        ArrayView<float> shifts, ArrayView<float> rowDots, int lane)
    {
        Mask(ref p, tile.Arguments, tile.Key, tile.Q0 + column, tile.Visible, keysAreRows: true, lane);
        ExponentiateColumns(ref p, shifts, column, tile.Arguments.Scale * FastExp2.Log2E, lane);
        ScoreGradientColumns(p, ref dp, rowDots, column, lane);
    }

    /// <summary>
    /// Copies 32 rows of <paramref name="words"/> words (16 to 64) of a dSᵀ scratch (rows <paramref name="stride"/> apart
    /// from <paramref name="from"/>, every row and tile on 16 bytes) to shared memory at word <paramref name="at"/>, rows
    /// <paramref name="sharedStride"/> apart (a multiple of 4): each of <paramref name="threads"/> copies four consecutive
    /// words of 32·words / (4·threads) rows (2 or 4, a constant where called) with 16-byte loads and stores, written out so
    /// that all its loads are in flight at once (ILGPU does not unroll loops); a quarter-warp copies 32 consecutive words.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyScratchTile(ArrayView<float> shared, int at, int sharedStride, ArrayView<float> scratch, int from,
        int stride, int words, int threads)
    {
        int quadsPerRow = words / 4, rowsPerPass = threads / quadsPerRow;
        int row = Group.IdxX / quadsPerRow, quad = Group.IdxX & (quadsPerRow - 1);
        var source = scratch.SubView(from + row * stride + 4 * quad).Cast<Quad>().AsAligned(16);
        var target = shared.SubView(at + row * sharedStride + 4 * quad).Cast<Quad>().AsAligned(16);
        int passQuads = rowsPerPass * stride / 4, passWords = rowsPerPass * sharedStride / 4;
        var (first, second) = (source[0], source[passQuads]);
        if (rowsPerPass * 2 < 32)
        {
            var (third, fourth) = (source[2 * passQuads], source[3 * passQuads]);
            target[2 * passWords] = third;
            target[3 * passWords] = fourth;
        }
        target[0] = first;
        target[passWords] = second;
    }

    /// <summary>
    /// Writes (or adds, per AccumulateGradients) a warp's 16 gradient rows (the head's first <paramref name="columns"/> of
    /// the 64; HeadDim) times <paramref name="scale"/> into the packed [tokens, 3, heads, HeadDim]
    /// <paramref name="target"/> slot: row g is token <paramref name="row"/> of the head starting at
    /// <paramref name="head"/>, rows past the sequence skipped.
    /// </summary>
    public static void WriteRows(in Fragments8 sum, float scale, ArrayView<float> target, in AttentionArguments a, int columns,
        int head, int row, int lane)
    {
        int tokens = a.Keys;
        int low = row < tokens ? head + row * a.QRowStride : -1, high = row + 8 < tokens ? head + (row + 8) * a.QRowStride : -1;
        Write(sum, new RowPair(scale, scale), target, low, high, columns, a.AccumulateGradients != 0, lane);
    }

    /// <summary>
    /// A warp's 16 gradient rows of a head of 72 to 128 columns (<see cref="WideHeadFragments.Fits"/>), both halves, as
    /// <see cref="WriteRows"/> writes those of 64.
    /// </summary>
    public static void WriteWideRows(in Fragments16 sum, float scale, ArrayView<float> target, in AttentionArguments a, int head,
        int row, int lane)
    {
        WriteRows(sum.Left, scale, target, a, HeadWidth, head, row, lane);
        WriteRows(sum.Right, scale, target, a, a.HeadDim - HeadWidth, head + HeadWidth, row, lane);
    }
}
