using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Flash-attention backward on TF32 tensor cores for heads of up to 64, deterministic (no atomics, one owner per gradient
/// element) with one recompute of the scores: <see cref="KeyValue"/> owns 32 keys and walks the query tiles,
/// recomputing P from the saved log-sum-exp and dS = P ∘ (dO·vᵀ − D) (FlashAttention-2, arXiv 2307.08691), adds dk and
/// dv, and leaves dSᵀ in a scratch matrix per head; <see cref="Query"/> owns 32 queries and adds dq = scale·dS·k from
/// it. Five products per tile pair (S, dP, dV, dK, dQ) where recomputing the scores for dq would take seven. A group is
/// 2 warps, each owning 16 rows; the key pass computes its scores and dP in registers with keys as rows and passes Pᵀ
/// and dSᵀ through shared slabs of its own as operands of the next products. Operands are rounded to TF32 when staged
/// or stored. The scratch holds, for each head of the launch, dSᵀ as [keys, queries] with both padded to whole tiles
/// (<see cref="ScoreStride"/>); tiles a causal mask skips are neither written nor read.
/// Under the bf16 precision <see cref="TensorCoreAttentionBf16BackwardKernels.KeyValue"/> takes the key pass's place.
/// Shared memory: KeyValue 43.3 KB (K, V, Q, dO [32, 68]; lse, D [32]; Pᵀ, dSᵀ [2 warps, 16, 36]); Query 14 KB
/// (K [32, 72]; dSᵀ [32, 40]). Arguments as <see cref="AttentionBackwardKernels"/>; the launch covers the heads
/// firstBatchHead.. of the batch, one per grid row. Heads of 72 to 128 columns take <see cref="KeyValueWide"/> and
/// <see cref="QueryWide"/>.
/// </summary>
internal static partial class TensorCoreAttentionBackwardKernels
{
    public const int Tile = 32, Warps = Tile / 16, Threads = Warps * Mma.WarpLanes;
    private const int RowStride = HeadStride, Rows = Tile * RowStride;

    // KeyValue: K, V (owned), Q, dO (per query tile), lse, D, then per warp Pᵀ and dSᵀ.
    private const int ValuesAt = Rows, QueriesAt = 2 * Rows, OutputGradientsAt = 3 * Rows;
    private const int ShiftsAt = 4 * Rows, RowDotsAt = ShiftsAt + Tile, SlabsAt = RowDotsAt + Tile;

    // Query: K, then the tile's dSᵀ.
    private const int ScoreGradientsAt = Tile * TransposedHeadStride;

    /// <summary>Floats of dynamic shared memory <see cref="KeyValue"/> needs.</summary>
    public const int KeyValueSharedFloats = SlabsAt + 2 * Warps * Slab;

    /// <summary>Floats of dynamic shared memory <see cref="Query"/> needs.</summary>
    public const int QuerySharedFloats = ScoreGradientsAt + Tile * StagedScoreGradients.Stride;

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
        KeyValueOf(q, k, v, dOutput, logSumExp, rowDot, dk, dv, scoreGradients, firstBatchHead, a, narrow: false);

    /// <summary>
    /// <see cref="KeyValue"/> for heads of HeadDim &lt; 64 columns (<see cref="Fits"/>): columns from HeadDim on are
    /// staged as zeros and not written.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void KeyValueNarrowHeads(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a) =>
        KeyValueOf(q, k, v, dOutput, logSumExp, rowDot, dk, dv, scoreGradients, firstBatchHead, a, narrow: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KeyValueOf(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a, bool narrow)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5, tokens = a.Keys, stride = ScoreStride(tokens);
        var matrices = new LaneMatrices(lane);
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, k0 = Grid.IdxX * Tile;
        int d = narrow ? a.HeadDim : HeadWidth, limit = narrow ? StagingLimit(tokens, d) : tokens;
        int head = b * a.QBatchStride + h * d, outputRow = a.Heads * d, outputHead = (b * tokens * a.Heads + h) * d;
        if (!narrow && a.VectorRows != 0 && k0 + Tile <= tokens)
        {
            StageWholeRows(shared, 0, RowStride, k, head, a.QRowStride, k0, Tile, Threads, HeadWidth);
            StageWholeRows(shared, ValuesAt, RowStride, v, head, a.QRowStride, k0, Tile, Threads, HeadWidth);
        }
        else
        {
            StageRows(shared, 0, RowStride, k, head, a.QRowStride, k0, Tile, limit, Threads);
            StageRows(shared, ValuesAt, RowStride, v, head, a.QRowStride, k0, Tile, limit, Threads);
        }
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        int keys = warp * 16 * RowStride, values = ValuesAt + keys;
        int probabilities = SlabsAt + 2 * warp * Slab, scoreGradientSlab = probabilities + Slab; // dSᵀ's slab follows Pᵀ's
        var (shifts, rowDots) = (shared.SubView(ShiftsAt, Tile), shared.SubView(RowDotsAt, Tile));
        int scoreRow = (Grid.IdxY * stride + key) * stride;

        var dkSum = default(Fragments8);
        var dvSum = default(Fragments8);
        for (int q0 = a.Causal != 0 ? k0 : 0; q0 < tokens; q0 += Tile) // causal: earlier queries see none of these keys
        {
            if (!narrow && a.VectorRows != 0 && q0 + Tile <= tokens)
            {
                StageWholeRows(shared, QueriesAt, RowStride, q, head, a.QRowStride, q0, Tile, Threads, HeadWidth);
                StageWholeRows(shared, OutputGradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, Threads, HeadWidth);
            }
            else
            {
                StageRows(shared, QueriesAt, RowStride, q, head, a.QRowStride, q0, Tile, limit, Threads);
                StageRows(shared, OutputGradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, limit, Threads);
            }
            BackwardFragments.StageRowStatistics(shifts, rowDots, logSumExp, rowDot, bh, tokens, q0, Tile);
            Group.Barrier();
            var p = default(Fragments4);  // Pᵀ: this warp's 16 keys × 32 queries
            var dp = default(Fragments4); // dPᵀ, then dSᵀ
            WarpProducts.AccumulateOverHead<HeadRows, HeadRows>(ref p, shared, keys, QueriesAt, matrices, d);
            WarpProducts.AccumulateOverHead<HeadRows, HeadRows>(ref dp, shared, values, OutputGradientsAt, matrices, d);
            var tile = new KeyTile(a, key, q0, AllVisible(a, q0, Tile, k0 + warp * 16, 16), scoreRow + q0, stride);
            KeyFragment(ref p.F0, ref dp.F0, shared, scoreGradients, tile, probabilities, 0, shifts, rowDots, lane);
            KeyFragment(ref p.F1, ref dp.F1, shared, scoreGradients, tile, probabilities, 8, shifts, rowDots, lane);
            KeyFragment(ref p.F2, ref dp.F2, shared, scoreGradients, tile, probabilities, 16, shifts, rowDots, lane);
            KeyFragment(ref p.F3, ref dp.F3, shared, scoreGradients, tile, probabilities, 24, shifts, rowDots, lane);
            Warp.Barrier();
            WarpProducts.AccumulateOver32<SlabRows, HeadColumns>(ref dvSum, shared, probabilities, OutputGradientsAt, matrices, d);
            WarpProducts.AccumulateOver32<SlabRows, HeadColumns>(ref dkSum, shared, scoreGradientSlab, QueriesAt, matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteRows(dkSum, a.Scale, dk, a, d, head, key, lane);
        BackwardFragments.WriteRows(dvSum, 1f, dv, a, d, head, key, lane);
    }

    /// <summary>
    /// dq += scale·dS·k for 32 queries, dSᵀ read from the scratch <see cref="KeyValue"/> filled. Grid (⌈T/32⌉, heads of the
    /// launch) × <see cref="Threads"/>; <see cref="QuerySharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Query(ArrayView<float> k, ArrayView<float> scoreGradients, ArrayView<float> dq, int firstBatchHead,
        AttentionArguments a) =>
        QueryOf(k, scoreGradients, dq, firstBatchHead, a, narrow: false);

    /// <summary>
    /// <see cref="Query"/> for heads of HeadDim &lt; 64 columns (<see cref="Fits"/>): columns from HeadDim on are
    /// staged as zeros and not written.
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
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * Tile;
        int d = narrow ? a.HeadDim : HeadWidth, head = b * a.QBatchStride + h * d, limit = narrow ? StagingLimit(tokens, d) : tokens;
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int scores = Grid.IdxY * stride * stride + q0, warpScores = ScoreGradientsAt + warp * 16;

        var dqSum = default(Fragments8);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + Tile) : tokens;
        for (int k0 = 0; k0 < keyEnd; k0 += Tile)
        {
            if (!narrow && a.VectorRows != 0 && k0 + Tile <= tokens)
                StageWholeRows(shared, 0, TransposedHeadStride, k, head, a.QRowStride, k0, Tile, Threads, HeadWidth);
            else
                StageRows(shared, 0, TransposedHeadStride, k, head, a.QRowStride, k0, Tile, limit, Threads);
            StageScoreGradients(shared, ScoreGradientsAt, scoreGradients, scores + k0 * stride, stride);
            Group.Barrier();
            WarpProducts.AccumulateOver32<StagedScoreGradients, ValueColumns>(ref dqSum, shared, warpScores, 0, matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteRows(dqSum, a.Scale, dq, a, d, head, query, lane);
    }

    /// <summary>
    /// Copies a 32 × 32 tile of the scratch (rows <paramref name="stride"/> apart from <paramref name="from"/>, already
    /// rounded) to shared memory at word <paramref name="at"/> (<see cref="StagedScoreGradients"/>). The scratch is its own
    /// buffer, its rows a multiple of 32 apart and its tiles 32 wide, so every tile is whole and starts on 16 bytes: each
    /// thread copies four consecutive columns of four rows with 16-byte loads and stores, written out so that all four
    /// loads are in flight at once (ILGPU does not unroll loops); a quarter-warp stores one row's 32 words.
    /// </summary>
    private static void StageScoreGradients(ArrayView<float> shared, int at, ArrayView<float> scratch, int from, int stride)
    {
        const int quadsPerRow = Tile / 4, rowsPerPass = Threads / quadsPerRow;
        int row = Group.IdxX / quadsPerRow, quad = Group.IdxX & (quadsPerRow - 1);
        var source = scratch.SubView(from + row * stride + 4 * quad).Cast<Quad>().AsAligned(16);
        var target = shared.SubView(at + row * StagedScoreGradients.Stride + 4 * quad).Cast<Quad>().AsAligned(16);
        int passQuads = rowsPerPass * stride / 4, passWords = rowsPerPass * StagedScoreGradients.Stride / 4;
        var (first, second, third, fourth) = (source[0], source[passQuads], source[2 * passQuads], source[3 * passQuads]);
        target[0] = first;
        target[passWords] = second;
        target[2 * passWords] = third;
        target[3 * passWords] = fourth;
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
    /// One fragment of the key pass (columns <paramref name="column"/>.. of the warp's <paramref name="tile"/>): Pᵀ and
    /// dSᵀ as <see cref="BackwardFragments.ScoreGradients"/> makes them, both also stored to the warp's slabs (Pᵀ's at
    /// <paramref name="probabilities"/>, dSᵀ's right after) as operands of the next products.
    /// </summary>
    private static void KeyFragment(ref MmaAccumulator p, ref MmaAccumulator dp, ArrayView<float> shared, ArrayView<float> scratch,
        in KeyTile tile, int probabilities, int column, ArrayView<float> shifts, ArrayView<float> rowDots, int lane)
    {
        BackwardFragments.ScoreGradients(ref p, ref dp, scratch, tile, column, shifts, rowDots, lane);
        Store(p, shared, probabilities, column, lane);
        Store(dp, shared, probabilities + Slab, column, lane);
    }
}
