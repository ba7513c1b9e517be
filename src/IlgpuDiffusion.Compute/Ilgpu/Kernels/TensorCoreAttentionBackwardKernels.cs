using System.Runtime.CompilerServices;
using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Flash-attention backward on TF32 tensor cores for heads of up to 64, deterministic (no atomics, one owner per gradient
/// element) with one recompute of the scores: <see cref="KeyValue"/> owns 32 keys and walks the query tiles,
/// recomputing P from the saved log-sum-exp and dS = P ∘ (dO·vᵀ − D) (FlashAttention-2, arXiv 2307.08691), adds dk and
/// dv, and leaves dSᵀ in a scratch matrix per head; <see cref="Query"/> owns 64 queries (4 warps; 32 and 2 for narrower
/// heads) and adds dq = scale·dS·k from it. Five products per tile pair (S, dP, dV, dK, dQ) where recomputing the scores
/// for dq would take seven. A key pass group is 2 warps, each owning 16 rows; the key pass computes its scores and dP in
/// registers with keys as rows and passes Pᵀ and dSᵀ through shared slabs of its own as operands of the next products.
/// Operands are rounded to TF32 when staged or stored. The scratch holds, for each head of the launch, dSᵀ as [keys,
/// queries] with both padded to whole blocks (<see cref="ScoreStride"/>); tiles a causal mask skips are neither written
/// nor read. Under the bf16 precision <see cref="TensorCoreAttentionBf16BackwardKernels.KeyValue"/> takes the key pass's
/// place. Where the GPU lets a launch opt in to 69.3 KB of shared memory, heads of 64 take <see cref="KeyValueBlock"/>, whose
/// 4 warps own 64 keys and share each staged query tile. Shared memory: KeyValue 43.3 KB (Q, dO [32, 68]; lse, D [32];
/// Pᵀ, dSᵀ [2 warps, 16, 36]; K, V [32, 68]), KeyValueBlock 69.3 KB (4 warps' slabs, K and V [64, 68]); Query 18 KB
/// (K [32, 72]; dSᵀ [32, 72]), 14 KB for narrower heads (dSᵀ [32, 40]). Arguments as
/// <see cref="AttentionBackwardKernels"/>; the launch covers the heads firstBatchHead.. of the batch, one per grid row.
/// Heads of 72 to 128 columns take <see cref="KeyValueWide"/> and <see cref="QueryWide"/>.
/// </summary>
internal static partial class TensorCoreAttentionBackwardKernels
{
    public const int Tile = 32, Warps = Tile / 16, Threads = Warps * Mma.WarpLanes;
    private const int RowStride = HeadStride, Rows = Tile * RowStride;

    // KeyValue: Q, dO (per query tile), lse, D, then per warp Pᵀ and dSᵀ, then K and V (owned).
    private const int QueriesAt = 0, OutputGradientsAt = Rows;
    private const int ShiftsAt = 2 * Rows, RowDotsAt = ShiftsAt + Tile, SlabsAt = RowDotsAt + Tile;
    private const int KeysAt = SlabsAt + 2 * Warps * Slab, BlockKeysAt = SlabsAt + 2 * (KeyBlock / 16) * Slab;

    // Query: K, then the tile's dSᵀ.
    private const int ScoreGradientsAt = Tile * TransposedHeadStride;

    /// <summary>Floats of dynamic shared memory <see cref="KeyValue"/> needs.</summary>
    public const int KeyValueSharedFloats = KeysAt + 2 * Rows;

    /// <summary>
    /// Keys a block of <see cref="KeyValueBlock"/> owns: 4 warps of 16, which share each staged query tile.
    /// </summary>
    public const int KeyBlock = ScoreBlock, KeyBlockThreads = KeyBlock / 16 * Mma.WarpLanes;

    /// <summary>Floats of dynamic shared memory <see cref="KeyValueBlock"/> needs.</summary>
    public const int KeyBlockSharedFloats = BlockKeysAt + 2 * KeyBlock * RowStride;

    /// <summary>Bytes of dynamic shared memory <see cref="KeyValueBlock"/> opts in to (69.3 KB).</summary>
    public const int KeyBlockSharedBytes = KeyBlockSharedFloats * sizeof(float);

    /// <summary>
    /// Queries a block of <see cref="Query"/> owns (heads of 64): 4 warps of 16 rows, which share each staged K tile.
    /// <see cref="QueryNarrowHeads"/> owns <see cref="Tile"/> with <see cref="Threads"/>.
    /// </summary>
    public const int QueryBlock = ScoreBlock, QueryThreads = QueryBlock / 16 * Mma.WarpLanes;

    /// <summary>Floats of dynamic shared memory <see cref="Query"/> needs.</summary>
    public const int QuerySharedFloats = ScoreGradientsAt + Tile * BlockScoreGradients.Stride;

    /// <summary>Floats of dynamic shared memory <see cref="QueryNarrowHeads"/> needs.</summary>
    public const int NarrowQuerySharedFloats = ScoreGradientsAt + Tile * StagedScoreGradients.Stride;

    /// <summary>
    /// The widest block of keys or queries a pass of either precision owns (<see
    /// cref="TensorCoreAttentionBf16BackwardKernels.BlockRows"/>): the scratch holds whole blocks of them.
    /// </summary>
    public const int ScoreBlock = 64;

    /// <summary>Words between the scratch rows of dSᵀ, and rows per head: the tokens rounded up to whole blocks of 64.</summary>
    public static int ScoreStride(int tokens) => (tokens + ScoreBlock - 1) / ScoreBlock * ScoreBlock;

    /// <summary>
    /// dk, dv += the gradients of 32 keys; dSᵀ of those keys into the head's scratch rows. Grid (⌈T/32⌉, heads of the
    /// launch) × <see cref="Threads"/>; <see cref="KeyValueSharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void KeyValue(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a) =>
        KeyValueOf(q, k, v, dOutput, logSumExp, rowDot, dk, dv, scoreGradients, firstBatchHead, a, narrow: false, block: false);

    /// <summary>
    /// <see cref="KeyValue"/> in blocks of <see cref="KeyBlock"/> keys, 4 warps, where the GPU lets a launch opt in to
    /// <see cref="KeyBlockSharedBytes"/>: each query tile a block stages, and its rows' statistics, serve twice the keys.
    /// Grid (⌈T/64⌉, heads of the launch) × <see cref="KeyBlockThreads"/>; <see cref="KeyBlockSharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = KeyBlockThreads)]
    public static void KeyValueBlock(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a) =>
        KeyValueOf(q, k, v, dOutput, logSumExp, rowDot, dk, dv, scoreGradients, firstBatchHead, a, narrow: false, block: true);

    /// <summary>
    /// <see cref="KeyValue"/> for heads of HeadDim &lt; 64 columns (<see cref="Fits"/>): columns from HeadDim on are
    /// staged as zeros and not written.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void KeyValueNarrowHeads(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a) =>
        KeyValueOf(q, k, v, dOutput, logSumExp, rowDot, dk, dv, scoreGradients, firstBatchHead, a, narrow: true, block: false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KeyValueOf(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a, bool narrow, bool block)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5, tokens = a.Keys, stride = ScoreStride(tokens);
        var matrices = new LaneMatrices(lane);
        int owned = block ? KeyBlock : Tile, threads = block ? KeyBlockThreads : Threads;
        int keysAt = block ? BlockKeysAt : KeysAt, valuesAt = keysAt + owned * RowStride;
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, k0 = Grid.IdxX * owned;
        int d = narrow ? a.HeadDim : HeadWidth, limit = narrow ? StagingLimit(tokens, d) : tokens;
        int head = b * a.QBatchStride + h * d, outputRow = a.Heads * d, outputHead = (b * tokens * a.Heads + h) * d;
        if (!narrow && a.VectorRows != 0 && k0 + owned <= tokens)
        {
            WholeRowStaging.StagePair<Tf32Words>(shared, new RowSource(k, head, a.QRowStride), keysAt, RowStride,
                new RowSource(v, head, a.QRowStride), valuesAt, RowStride, k0, owned, threads, HeadWidth);
        }
        else
        {
            StageRows(shared, keysAt, RowStride, k, head, a.QRowStride, k0, owned, limit, threads);
            StageRows(shared, valuesAt, RowStride, v, head, a.QRowStride, k0, owned, limit, threads);
        }
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        int keys = keysAt + warp * 16 * RowStride, values = valuesAt + warp * 16 * RowStride;
        int probabilities = SlabsAt + 2 * warp * Slab, scoreGradientSlab = probabilities + Slab; // dSᵀ's slab follows Pᵀ's
        var (shifts, rowDots) = (shared.SubView(ShiftsAt, Tile), shared.SubView(RowDotsAt, Tile));
        int scoreRow = (Grid.IdxY * stride + key) * stride;

        var dkSum = default(Fragments8);
        var dvSum = default(Fragments8);
        for (int q0 = a.Causal != 0 ? k0 : 0; q0 < tokens; q0 += Tile) // causal: earlier queries see none of these keys
        {
            if (!narrow && a.VectorRows != 0 && q0 + Tile <= tokens)
            {
                WholeRowStaging.StagePair<Tf32Words>(shared, new RowSource(q, head, a.QRowStride), QueriesAt, RowStride,
                    new RowSource(dOutput, outputHead, outputRow), OutputGradientsAt, RowStride, q0, Tile, threads, HeadWidth);
            }
            else
            {
                StageRows(shared, QueriesAt, RowStride, q, head, a.QRowStride, q0, Tile, limit, threads);
                StageRows(shared, OutputGradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, limit, threads);
            }
            BackwardFragments.StageRowStatistics(shifts, rowDots, logSumExp, rowDot, bh, tokens, q0, Tile);
            Group.Barrier();
            var p = default(Fragments4);  // Pᵀ: this warp's 16 keys × 32 queries
            var dp = default(Fragments4); // dPᵀ, then dSᵀ
            WarpProducts.AccumulateOverHead<HeadRows, HeadRows>(ref p, shared, keys, QueriesAt, matrices, d);
            WarpProducts.AccumulateOverHead<HeadRows, HeadRows>(ref dp, shared, values, OutputGradientsAt, matrices, d);
            var tile = new KeyTile(a, key, q0, AllVisible(a, q0, Tile, k0 + warp * 16, 16), scoreRow + q0, stride);
            // Pᵀ and dSᵀ to the warp's slabs (Pᵀ's at probabilities, dSᵀ's right after) as operands of the next products.
            float scoreGradientSum = BackwardFragments.ScoreGradients(ref p, ref dp, scoreGradients, tile, shifts, rowDots, lane);
            Store(p, shared, probabilities, lane, Sum(p));
            Store(dp, shared, scoreGradientSlab, lane, scoreGradientSum);
            Warp.Barrier();
            WarpProducts.AccumulateOver32<SlabRows, HeadColumns>(ref dvSum, shared, probabilities, OutputGradientsAt, matrices, d);
            WarpProducts.AccumulateOver32<SlabRows, HeadColumns>(ref dkSum, shared, scoreGradientSlab, QueriesAt, matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteRows(dkSum, a.Scale, dk, a, d, head, key, lane);
        BackwardFragments.WriteRows(dvSum, 1f, dv, a, d, head, key, lane);
    }

    /// <summary>
    /// dq += scale·dS·k for 64 queries, dSᵀ read from the scratch <see cref="KeyValue"/> filled. Grid (⌈T/64⌉, heads of the
    /// launch) × <see cref="QueryThreads"/>; <see cref="QuerySharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = QueryThreads)]
    public static void Query(ArrayView<float> k, ArrayView<float> scoreGradients, ArrayView<float> dq, int firstBatchHead,
        AttentionArguments a) =>
        QueryOf(k, scoreGradients, dq, firstBatchHead, a, narrow: false);

    /// <summary>
    /// <see cref="Query"/> for heads of HeadDim &lt; 64 columns (<see cref="Fits"/>): 32 queries, columns from HeadDim on
    /// staged as zeros and not written. Grid (⌈T/32⌉, heads of the launch) × <see cref="Threads"/>;
    /// <see cref="NarrowQuerySharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void QueryNarrowHeads(ArrayView<float> k, ArrayView<float> scoreGradients, ArrayView<float> dq, int firstBatchHead,
        AttentionArguments a) =>
        QueryOf(k, scoreGradients, dq, firstBatchHead, a, narrow: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QueryOf(ArrayView<float> k, ArrayView<float> scoreGradients, ArrayView<float> dq, int firstBatchHead,
        AttentionArguments a, bool narrow)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5, tokens = a.Keys, stride = ScoreStride(tokens);
        var matrices = new LaneMatrices(lane);
        int rows = narrow ? Tile : QueryBlock, threads = narrow ? Threads : QueryThreads;
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * rows;
        int d = narrow ? a.HeadDim : HeadWidth, head = b * a.QBatchStride + h * d, limit = narrow ? StagingLimit(tokens, d) : tokens;
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int scores = Grid.IdxY * stride * stride + q0, warpScores = ScoreGradientsAt + warp * 16;

        var dqSum = default(Fragments8);
        var tile = new QueryTile(a, head, limit, scores, stride, warpScores, d, threads, narrow);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + rows) : tokens;
        // Causal: the keys before the block's first query reach every row. A block of 32 queries (narrower heads) has one
        // tile on the diagonal, whose scratch entries the key pass's block of the same 32 keys wrote whole.
        int wholeEnd = a.Causal != 0 && !narrow ? q0 : keyEnd, k0 = 0;
        // The tile's first key row, carried from tile to tile: computed from the block's head in the loop, it cost ptxas a
        // division (bh / heads) and the index arithmetic after it again in every tile.
        int keyAt = head;
        for (; k0 < wholeEnd; k0 += Tile, keyAt += Tile * a.QRowStride)
            AccumulateKeyTile(ref dqSum, shared, k, scoreGradients, tile, k0, keyAt, matrices, multiply: true);
        // The causal diagonal of 64 queries: a warp whose queries all precede the tile's keys skips it. The key pass in blocks
        // of 32 keys leaves those entries of the scratch unwritten.
        if (!narrow)
        {
            for (; k0 < keyEnd; k0 += Tile, keyAt += Tile * a.QRowStride)
                AccumulateKeyTile(ref dqSum, shared, k, scoreGradients, tile, k0, keyAt, matrices,
                    multiply: q0 + warp * 16 + 15 >= k0);
        }
        BackwardFragments.WriteRows(dqSum, a.Scale, dq, a, d, head, query, lane);
    }

    /// <summary>
    /// A dq pass's block: its arguments, head, staging limit, first scratch word and stride, its warp's dS rows in shared
    /// memory, the head's columns, its threads, and whether it is the variant for narrower heads.
    /// </summary>
    private readonly record struct QueryTile(AttentionArguments A, int Head, int Limit, int Scores, int Stride, int WarpScores,
        int Columns, int Threads, bool Narrow);

    /// <summary>
    /// One key tile of 32 from <paramref name="k0"/> on (its first row at <paramref name="keyAt"/> of k) of a dq pass: K and
    /// the block's dSᵀ staged by every thread, then, where <paramref name="multiply"/>, dq += dS·k for the warp's 16 queries.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateKeyTile(ref Fragments8 dqSum, ArrayView<float> shared, ArrayView<float> k,
        ArrayView<float> scoreGradients, in QueryTile tile, int k0, int keyAt, in LaneMatrices matrices, bool multiply)
    {
        var a = tile.A;
        if (!tile.Narrow && a.VectorRows != 0 && k0 + Tile <= a.Keys)
            StageWholeRows(shared, 0, TransposedHeadStride, k, keyAt, a.QRowStride, 0, Tile, QueryThreads, HeadWidth);
        else if (!tile.Narrow)
            StageRows(shared, 0, TransposedHeadStride, k, keyAt, a.QRowStride, 0, Tile, tile.Limit - k0, tile.Threads);
        else // narrower heads: from the head, as the carried row cost their loop a third wait for its loads
            StageRows(shared, 0, TransposedHeadStride, k, tile.Head, a.QRowStride, k0, Tile, tile.Limit, tile.Threads);
        int from = tile.Scores + k0 * tile.Stride;
        if (tile.Narrow)
            MultiplyScoreGradients<StagedScoreGradients>(ref dqSum, shared, scoreGradients, tile, from, Tile, matrices, multiply);
        else
            MultiplyScoreGradients<BlockScoreGradients>(ref dqSum, shared, scoreGradients, tile, from, QueryBlock, matrices, multiply);
        Group.Barrier();
    }

    /// <summary>
    /// The rest of <see cref="AccumulateKeyTile"/>: the block's dSᵀ tile of <paramref name="queries"/> copied into rows laid
    /// out as <typeparamref name="TScores"/> says, a barrier, and dq += dS·k where <paramref name="multiply"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyScoreGradients<TScores>(ref Fragments8 dqSum, ArrayView<float> shared, ArrayView<float> scoreGradients,
        in QueryTile tile, int from, int queries, in LaneMatrices matrices, bool multiply)
        where TScores : struct, IOperandStrides
    {
        BackwardFragments.CopyScratchTile(shared, ScoreGradientsAt, default(TScores).K, scoreGradients, from, tile.Stride, queries,
            tile.Threads);
        Group.Barrier();
        if (multiply)
            WarpProducts.AccumulateOver32<TScores, ValueColumns>(ref dqSum, shared, tile.WarpScores, 0, matrices, tile.Columns);
    }

    /// <summary>
    /// dSᵀ staged as [keys, queries] and read as the A operand of dS·k: lines are queries, k keys; rows padded to 40
    /// words so that the reads (line g, k t) hit distinct banks.
    /// </summary>
    private readonly struct StagedScoreGradients : IOperandStrides
    {
        public const int Stride = Tile + 8;

        public int Line => 1;

        public int K => Stride;
    }

    /// <summary>
    /// <see cref="StagedScoreGradients"/> of the 64 queries of a <see cref="Query"/> block: rows of 72 words, (line g, k t)
    /// in bank 8t + g as at 40.
    /// </summary>
    private readonly struct BlockScoreGradients : IOperandStrides
    {
        public const int Stride = QueryBlock + 8;

        public int Line => 1;

        public int K => Stride;
    }

}
