using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Flash-attention backward on TF32 tensor cores for heads of 64, in the two deterministic passes of
/// <see cref="AttentionBackwardKernels"/> (no atomics; P recomputed from the saved log-sum-exp, dS = P ∘ (dO·vᵀ − D)):
/// <see cref="KeyValue"/> owns 32 keys and walks the query tiles, <see cref="Query"/> owns 32 queries and walks the key
/// tiles. A group is 2 warps, each owning 16 rows; per tile a warp computes its scores and dP in registers and passes
/// P and dS through shared slabs of its own as operands of the next products. Operands are rounded to TF32 when staged
/// or stored. The key pass works on transposed scores (keys as rows), so that its products keep keys as rows too.
/// Shared memory: KeyValue 43.3 KB (K, V, Q, dO [32, 68]; lse, D [32]; Pᵀ, dSᵀ [2 warps, 16, 36]); Query 38.8 KB
/// (Q, dO, K, V [32, 68]; dS [2 warps, 16, 36]). Arguments as <see cref="AttentionBackwardKernels"/>.
/// </summary>
internal static class TensorCoreAttentionBackwardKernels
{
    public const int Tile = 32, Warps = Tile / 16, Threads = Warps * Mma.WarpLanes;
    private const int RowStride = HeadStride, Rows = Tile * RowStride;

    // KeyValue: K, V (owned), Q, dO (per query tile), lse, D, then per warp Pᵀ and dSᵀ.
    private const int ValuesAt = Rows, QueriesAt = 2 * Rows, OutputGradientsAt = 3 * Rows;
    private const int LogSumExpAt = 4 * Rows, RowDotsAt = LogSumExpAt + Tile, SlabsAt = RowDotsAt + Tile;

    /// <summary>Floats of dynamic shared memory <see cref="KeyValue"/> needs.</summary>
    public const int KeyValueSharedFloats = SlabsAt + 2 * Warps * Slab;

    /// <summary>Floats of dynamic shared memory <see cref="Query"/> needs (Q, dO, K, V, then per warp dS).</summary>
    public const int QuerySharedFloats = 4 * Rows + Warps * Slab;

    /// <summary>
    /// dk, dv += the gradients of 32 keys. Grid (⌈T/32⌉, batch·heads) × <see cref="Threads"/>; <see cref="KeyValueSharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void KeyValue(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5, tokens = a.Keys;
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, k0 = Grid.IdxX * Tile;
        int head = b * a.QBatchStride + h * HeadDim, outputRow = a.Heads * HeadDim, outputHead = (b * tokens * a.Heads + h) * HeadDim;
        StageRows(shared, 0, RowStride, k, head, a.QRowStride, k0, Tile, tokens, Threads);
        StageRows(shared, ValuesAt, RowStride, v, head, a.QRowStride, k0, Tile, tokens, Threads);
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        int keys = warp * 16 * RowStride, values = ValuesAt + keys;
        int probabilities = SlabsAt + 2 * warp * Slab, scoreGradients = probabilities + Slab;
        var (logSumExps, rowDots) = (shared.SubView(LogSumExpAt, Tile), shared.SubView(RowDotsAt, Tile));

        var dkSum = default(Fragments8);
        var dvSum = default(Fragments8);
        for (int q0 = a.Causal != 0 ? k0 : 0; q0 < tokens; q0 += Tile) // causal: earlier queries see none of these keys
        {
            StageRows(shared, QueriesAt, RowStride, q, head, a.QRowStride, q0, Tile, tokens, Threads);
            StageRows(shared, OutputGradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, tokens, Threads);
            for (int r = Group.IdxX; r < Tile; r += Group.DimX)
            {
                bool inside = q0 + r < tokens;
                logSumExps[r] = inside ? logSumExp[bh * tokens + q0 + r] : 0f;
                rowDots[r] = inside ? rowDot[bh * tokens + q0 + r] : 0f;
            }
            Group.Barrier();
            var p = default(Fragments4);  // Pᵀ: this warp's 16 keys × 32 queries
            var dp = default(Fragments4); // dPᵀ, then dSᵀ
            WarpProducts.AccumulateOver64<HeadRows, HeadRows>(ref p, shared, keys, QueriesAt, lane);
            WarpProducts.AccumulateOver64<HeadRows, HeadRows>(ref dp, shared, values, OutputGradientsAt, lane);
            var tile = new KeyTile(a, key, q0, AllVisible(a, q0, Tile, k0 + warp * 16, 16), probabilities, scoreGradients);
            KeyFragment(ref p.F0, ref dp.F0, shared, tile, 0, logSumExps, rowDots, lane);
            KeyFragment(ref p.F1, ref dp.F1, shared, tile, 8, logSumExps, rowDots, lane);
            KeyFragment(ref p.F2, ref dp.F2, shared, tile, 16, logSumExps, rowDots, lane);
            KeyFragment(ref p.F3, ref dp.F3, shared, tile, 24, logSumExps, rowDots, lane);
            Warp.Barrier();
            WarpProducts.AccumulateOver32<SlabRows, HeadColumns>(ref dvSum, shared, probabilities, OutputGradientsAt, lane);
            WarpProducts.AccumulateOver32<SlabRows, HeadColumns>(ref dkSum, shared, scoreGradients, QueriesAt, lane);
            Group.Barrier();
        }
        int low = key < tokens ? head + key * a.QRowStride : -1, high = key + 8 < tokens ? head + (key + 8) * a.QRowStride : -1;
        Write(dkSum, new RowPair(a.Scale, a.Scale), dk, low, high, accumulate: true, lane);
        Write(dvSum, new RowPair(1f, 1f), dv, low, high, accumulate: true, lane);
    }

    /// <summary>
    /// dq += the gradient of 32 queries. Grid (⌈T/32⌉, batch·heads) × <see cref="Threads"/>; <see cref="QuerySharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Query(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dq, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5, tokens = a.Keys;
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * Tile;
        int head = b * a.QBatchStride + h * HeadDim, outputRow = a.Heads * HeadDim, outputHead = (b * tokens * a.Heads + h) * HeadDim;
        const int gradientsAt = Rows, keysAt = 2 * Rows, valuesAt = 3 * Rows, slabsAt = 4 * Rows;
        StageRows(shared, 0, RowStride, q, head, a.QRowStride, q0, Tile, tokens, Threads);
        StageRows(shared, gradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, tokens, Threads);
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        var logSumExps = new RowPair(query < tokens ? logSumExp[bh * tokens + query] : 0f,
            query + 8 < tokens ? logSumExp[bh * tokens + query + 8] : 0f);
        var rowDots = new RowPair(query < tokens ? rowDot[bh * tokens + query] : 0f,
            query + 8 < tokens ? rowDot[bh * tokens + query + 8] : 0f);
        int queries = warp * 16 * RowStride, gradients = gradientsAt + queries, scoreGradients = slabsAt + warp * Slab;

        var dqSum = default(Fragments8);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + Tile) : tokens;
        for (int k0 = 0; k0 < keyEnd; k0 += Tile)
        {
            StageRows(shared, keysAt, RowStride, k, head, a.QRowStride, k0, Tile, tokens, Threads);
            StageRows(shared, valuesAt, RowStride, v, head, a.QRowStride, k0, Tile, tokens, Threads);
            Group.Barrier();
            var p = default(Fragments4);  // this warp's 16 queries × 32 keys
            var dp = default(Fragments4); // dP, then dS
            WarpProducts.AccumulateOver64<HeadRows, HeadRows>(ref p, shared, queries, keysAt, lane);
            WarpProducts.AccumulateOver64<HeadRows, HeadRows>(ref dp, shared, gradients, valuesAt, lane);
            bool visible = AllVisible(a, q0 + warp * 16, 16, k0, Tile);
            QueryFragment(ref p.F0, ref dp.F0, shared, a, query, k0, 0, scoreGradients, logSumExps, rowDots, visible, lane);
            QueryFragment(ref p.F1, ref dp.F1, shared, a, query, k0, 8, scoreGradients, logSumExps, rowDots, visible, lane);
            QueryFragment(ref p.F2, ref dp.F2, shared, a, query, k0, 16, scoreGradients, logSumExps, rowDots, visible, lane);
            QueryFragment(ref p.F3, ref dp.F3, shared, a, query, k0, 24, scoreGradients, logSumExps, rowDots, visible, lane);
            Warp.Barrier();
            WarpProducts.AccumulateOver32<SlabRows, HeadColumns>(ref dqSum, shared, scoreGradients, keysAt, lane);
            Group.Barrier();
        }
        int low = query < tokens ? head + query * a.QRowStride : -1;
        int high = query + 8 < tokens ? head + (query + 8) * a.QRowStride : -1;
        Write(dqSum, new RowPair(a.Scale, a.Scale), dq, low, high, accumulate: true, lane);
    }

    /// <summary>
    /// One fragment of the key pass (columns <paramref name="column"/>.. of the warp's <paramref name="tile"/>): scores
    /// to Pᵀ, dPᵀ to dSᵀ, both stored to the warp's slabs.
    /// </summary>
    private static void KeyFragment(ref MmaAccumulator p, ref MmaAccumulator dp, ArrayView<float> shared, in KeyTile tile, int column,
        ArrayView<float> logSumExps, ArrayView<float> rowDots, int lane)
    {
        ScaleAndMask(ref p, tile.Arguments, tile.Key, tile.Q0 + column, tile.Visible, keysAreRows: true, lane);
        ExponentiateColumns(ref p, logSumExps, column, lane);
        ScoreGradientColumns(p, ref dp, rowDots, column, lane);
        Store(p, shared, tile.Probabilities, column, lane);
        Store(dp, shared, tile.ScoreGradients, column, lane);
    }

    /// <summary>
    /// A warp's tile of the key pass: its row g's key, the query tile's first query, whether all its pairs are visible,
    /// and its slabs.
    /// </summary>
    private readonly record struct KeyTile(AttentionArguments Arguments, int Key, int Q0, bool Visible, int Probabilities,
        int ScoreGradients);

    /// <summary>
    /// One fragment of the query pass (keys <paramref name="column"/>.. of the tile at <paramref name="k0"/>): dS stored.
    /// </summary>
    private static void QueryFragment(ref MmaAccumulator p, ref MmaAccumulator dp, ArrayView<float> shared, in AttentionArguments a,
        int query, int k0, int column, int scoreGradients, RowPair logSumExps, RowPair rowDots, bool visible, int lane)
    {
        ScaleAndMask(ref p, a, query, k0 + column, visible, keysAreRows: false, lane);
        Exponentiate(ref p, logSumExps);
        ScoreGradient(p, ref dp, rowDots);
        Store(dp, shared, scoreGradients, column, lane);
    }
}
