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
    private const int RowStride = HeadDim + 4, SlabStride = Tile + 4, Rows = Tile * RowStride, Slab = 16 * SlabStride;

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
        StageRows(shared, 0, RowStride, k, head, a.QRowStride, k0, Tile, tokens);
        StageRows(shared, ValuesAt, RowStride, v, head, a.QRowStride, k0, Tile, tokens);
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        var keys = new SharedOperand(warp * 16 * RowStride, RowStride, 1);
        var values = new SharedOperand(ValuesAt + warp * 16 * RowStride, RowStride, 1);
        var queries = new SharedOperand(QueriesAt, RowStride, 1);              // lines: queries; k: head columns
        var gradients = new SharedOperand(OutputGradientsAt, RowStride, 1);
        var queryColumns = new SharedOperand(QueriesAt, 1, RowStride);         // lines: head columns; k: queries
        var gradientColumns = new SharedOperand(OutputGradientsAt, 1, RowStride);
        var probabilities = new SharedOperand(SlabsAt + 2 * warp * Slab, SlabStride, 1);
        var scoreGradients = probabilities.Skip(16);
        var (logSumExps, rowDots) = (shared.SubView(LogSumExpAt, Tile), shared.SubView(RowDotsAt, Tile));

        var dkSum = default(Fragments8);
        var dvSum = default(Fragments8);
        for (int q0 = a.Causal != 0 ? k0 : 0; q0 < tokens; q0 += Tile) // causal: earlier queries see none of these keys
        {
            StageRows(shared, QueriesAt, RowStride, q, head, a.QRowStride, q0, Tile, tokens);
            StageRows(shared, OutputGradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, tokens);
            for (int r = Group.IdxX; r < Tile; r += Group.DimX)
            {
                bool inside = q0 + r < tokens;
                logSumExps[r] = inside ? logSumExp[bh * tokens + q0 + r] : 0f;
                rowDots[r] = inside ? rowDot[bh * tokens + q0 + r] : 0f;
            }
            Group.Barrier();
            var p = default(Fragments4);  // Pᵀ: this warp's 16 keys × 32 queries
            var dp = default(Fragments4); // dPᵀ, then dSᵀ
            WarpProducts.AccumulateOver64(ref p, shared, keys, queries, lane);
            WarpProducts.AccumulateOver64(ref dp, shared, values, gradients, lane);
            KeyFragment(ref p.F0, ref dp.F0, shared, a, key, q0, 0, probabilities, scoreGradients, logSumExps, rowDots, lane);
            KeyFragment(ref p.F1, ref dp.F1, shared, a, key, q0, 8, probabilities, scoreGradients, logSumExps, rowDots, lane);
            KeyFragment(ref p.F2, ref dp.F2, shared, a, key, q0, 16, probabilities, scoreGradients, logSumExps, rowDots, lane);
            KeyFragment(ref p.F3, ref dp.F3, shared, a, key, q0, 24, probabilities, scoreGradients, logSumExps, rowDots, lane);
            Warp.Barrier();
            WarpProducts.AccumulateOver32(ref dvSum, shared, probabilities, gradientColumns, lane);
            WarpProducts.AccumulateOver32(ref dkSum, shared, scoreGradients, queryColumns, lane);
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
        StageRows(shared, 0, RowStride, q, head, a.QRowStride, q0, Tile, tokens);
        StageRows(shared, gradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, tokens);
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        var logSumExps = new RowPair(query < tokens ? logSumExp[bh * tokens + query] : 0f,
            query + 8 < tokens ? logSumExp[bh * tokens + query + 8] : 0f);
        var rowDots = new RowPair(query < tokens ? rowDot[bh * tokens + query] : 0f,
            query + 8 < tokens ? rowDot[bh * tokens + query + 8] : 0f);
        var queries = new SharedOperand(warp * 16 * RowStride, RowStride, 1);
        var gradients = new SharedOperand(gradientsAt + warp * 16 * RowStride, RowStride, 1);
        var keys = new SharedOperand(keysAt, RowStride, 1);             // lines: keys; k: head columns
        var values = new SharedOperand(valuesAt, RowStride, 1);
        var keyColumns = new SharedOperand(keysAt, 1, RowStride);       // lines: head columns; k: keys
        var scoreGradients = new SharedOperand(slabsAt + warp * Slab, SlabStride, 1);

        var dqSum = default(Fragments8);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + Tile) : tokens;
        for (int k0 = 0; k0 < keyEnd; k0 += Tile)
        {
            StageRows(shared, keysAt, RowStride, k, head, a.QRowStride, k0, Tile, tokens);
            StageRows(shared, valuesAt, RowStride, v, head, a.QRowStride, k0, Tile, tokens);
            Group.Barrier();
            var p = default(Fragments4);  // this warp's 16 queries × 32 keys
            var dp = default(Fragments4); // dP, then dS
            WarpProducts.AccumulateOver64(ref p, shared, queries, keys, lane);
            WarpProducts.AccumulateOver64(ref dp, shared, gradients, values, lane);
            QueryFragment(ref p.F0, ref dp.F0, shared, a, query, k0, 0, scoreGradients, logSumExps, rowDots, lane);
            QueryFragment(ref p.F1, ref dp.F1, shared, a, query, k0, 8, scoreGradients, logSumExps, rowDots, lane);
            QueryFragment(ref p.F2, ref dp.F2, shared, a, query, k0, 16, scoreGradients, logSumExps, rowDots, lane);
            QueryFragment(ref p.F3, ref dp.F3, shared, a, query, k0, 24, scoreGradients, logSumExps, rowDots, lane);
            Warp.Barrier();
            WarpProducts.AccumulateOver32(ref dqSum, shared, scoreGradients, keyColumns, lane);
            Group.Barrier();
        }
        int low = query < tokens ? head + query * a.QRowStride : -1;
        int high = query + 8 < tokens ? head + (query + 8) * a.QRowStride : -1;
        Write(dqSum, new RowPair(a.Scale, a.Scale), dq, low, high, accumulate: true, lane);
    }

    /// <summary>
    /// One fragment of the key pass (columns <paramref name="column"/>.. of the query tile at <paramref name="q0"/>): scores
    /// to Pᵀ, dPᵀ to dSᵀ, both stored to the warp's slabs.
    /// </summary>
    private static void KeyFragment(ref MmaAccumulator p, ref MmaAccumulator dp, ArrayView<float> shared, in AttentionArguments a,
        int key, int q0, int column, in SharedOperand probabilities, in SharedOperand scoreGradients, ArrayView<float> logSumExps,
        ArrayView<float> rowDots, int lane)
    {
        ScaleAndMaskColumns(ref p, a, key, q0 + column, lane);
        ExponentiateColumns(ref p, logSumExps, column, lane);
        ScoreGradientColumns(p, ref dp, rowDots, column, lane);
        Store(p, shared, probabilities, column, lane);
        Store(dp, shared, scoreGradients, column, lane);
    }

    /// <summary>
    /// One fragment of the query pass (keys <paramref name="column"/>.. of the tile at <paramref name="k0"/>): dS stored.
    /// </summary>
    private static void QueryFragment(ref MmaAccumulator p, ref MmaAccumulator dp, ArrayView<float> shared, in AttentionArguments a,
        int query, int k0, int column, in SharedOperand scoreGradients, RowPair logSumExps, RowPair rowDots, int lane)
    {
        ScaleAndMask(ref p, a, query, k0 + column, lane);
        Exponentiate(ref p, logSumExps);
        ScoreGradient(p, ref dp, rowDots);
        Store(dp, shared, scoreGradients, column, lane);
    }
}
