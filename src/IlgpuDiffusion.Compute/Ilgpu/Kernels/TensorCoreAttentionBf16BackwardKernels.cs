using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The tensor-core attention backward on BF16 tensor cores (m16n8k16, fp32 accumulate), the bf16 precision's
/// counterpart of <see cref="TensorCoreAttentionBackwardKernels"/>, with the same arguments, grids and scratch.
/// <see cref="KeyValue"/>: a group of 4 warps owns 64 keys, each warp 16, and walks the query tiles of 32, which all four
/// share: each thread stages a quarter of a tile where, in groups of 2 warps, it staged half (a whole tile's path, CUDA
/// 11.8 ptxas, sm_80: 645 → 556 instructions). The keys and values stay staged for the whole launch, and a warp loads its
/// A fragments of them (ldmatrix) per query tile: held in registers through the launch they took 173 registers; loaded
/// per tile, 136, for 8 more ldmatrix a tile. Per query tile a warp computes Pᵀ and dPᵀ in registers (keys as rows), and
/// multiplies Pᵀ·dO into dv and dSᵀ·Q into dk straight from those registers (the m16n8k16 accumulator layout is the A
/// layout of the next product's pairs: no slabs). Q and dO are staged twice as BF16 pairs: along the head for the scores,
/// along the queries (transposed) for dk and dv. dSᵀ goes to the scratch rounded to TF32, as the TF32 key pass leaves it.
/// Shared memory (37.3 KB): Q, dO [32, 36 words]; Qᵀ, dOᵀ [64 head columns, 20 words]; lse, D [32]; K, V [64, 36 words].
/// <see cref="Query"/>: 4 warps own 64 queries and add dq = scale·dS·k, dS staged from the scratch as pairs along the
/// keys, k transposed likewise (191 → 166). Shared memory (10 KB): dS [64 queries, 20 words]; kᵀ [64 head columns, 20
/// words]. The variants for narrower heads keep groups of 2 warps and 32 rows.
/// Heads of 72 to 128 columns take <see cref="KeyValueWide"/> and <see cref="QueryWide"/>.
/// </summary>
internal static partial class TensorCoreAttentionBf16BackwardKernels
{
    public const int Tile = TensorCoreAttentionBackwardKernels.Tile, Threads = TensorCoreAttentionBackwardKernels.Threads;

    /// <summary>
    /// Keys a block of <see cref="KeyValue"/> owns, and queries one of <see cref="Query"/> (heads of 64): 4 warps of 16 rows,
    /// which share each staged tile. The variants for narrower heads own <see cref="Tile"/> with <see cref="Threads"/>.
    /// </summary>
    public const int BlockRows = TensorCoreAttentionBackwardKernels.ScoreBlock, BlockThreads = BlockRows / 16 * Mma.WarpLanes;

    /// <summary>Words between staged pair rows (32 pairs and 4 of padding), and between transposed lines (16 and 4).</summary>
    private const int RowStride = HeadWidth / 2 + 4, ColumnStride = Tile / 2 + 4;

    private const int GradientsAt = Tile * RowStride, QueryColumnsAt = 2 * Tile * RowStride;
    private const int GradientColumnsAt = QueryColumnsAt + HeadWidth * ColumnStride;
    private const int ShiftsAt = GradientColumnsAt + HeadWidth * ColumnStride;
    private const int RowDotsAt = ShiftsAt + Tile;
    private const int KeysAt = RowDotsAt + Tile, ValuesAt = KeysAt + BlockRows * RowStride;

    /// <summary>Floats of dynamic shared memory <see cref="KeyValue"/> needs.</summary>
    public const int SharedFloats = ValuesAt + BlockRows * RowStride;

    // Query: the tile's dS pairs, then kᵀ.
    private const int KeyColumnsAt = BlockRows * ColumnStride;

    /// <summary>Floats of dynamic shared memory <see cref="Query"/> needs.</summary>
    public const int QuerySharedFloats = KeyColumnsAt + HeadWidth * ColumnStride;

    /// <summary>
    /// dk, dv += the gradients of 64 keys; dSᵀ of those keys into the head's scratch rows. Grid (⌈T/64⌉, heads of the
    /// launch) × <see cref="BlockThreads"/>; <see cref="SharedFloats"/>. No launch bounds: at 128 registers (4 blocks) ptxas
    /// spills 8 bytes for sm_80 and 40 for sm_90 inside the loop; it takes 136, 3 blocks (CUDA 11.8 ptxas).
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = BlockThreads)]
    public static void KeyValue(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a) =>
        KeyValueOf(q, k, v, dOutput, logSumExp, rowDot, dk, dv, scoreGradients, firstBatchHead, a, narrow: false);

    /// <summary>
    /// <see cref="KeyValue"/> for heads of HeadDim &lt; 64 columns (<see cref="Fits"/>): 32 keys, columns from HeadDim on
    /// staged as zeros and not written. Grid (⌈T/32⌉, heads of the launch) × <see cref="Threads"/>.
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
        int tokens = a.Keys, stride = TensorCoreAttentionBackwardKernels.ScoreStride(tokens);
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5;
        var matrices = new LaneMatrices(lane);
        int rows = narrow ? Tile : BlockRows, threads = narrow ? Threads : BlockThreads;
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, k0 = Grid.IdxX * rows;
        int d = narrow ? a.HeadDim : HeadWidth, head = b * a.QBatchStride + h * d;
        int outputRow = a.Heads * d, outputHead = (b * tokens * a.Heads + h) * d;
        int rowLimit = narrow ? Bf16Fragments.PairStagingLimit(tokens, d) : tokens, columnLimit = narrow ? StagingLimit(tokens, d) : tokens;
        if (!narrow && a.VectorRows != 0 && k0 + BlockRows <= tokens)
        {
            Bf16Fragments.StageWholeRows(shared, KeysAt, RowStride, k, head, a.QRowStride, k0, BlockRows, BlockThreads, HeadWidth);
            Bf16Fragments.StageWholeRows(shared, ValuesAt, RowStride, v, head, a.QRowStride, k0, BlockRows, BlockThreads, HeadWidth);
        }
        else
        {
            Bf16Fragments.StageRows(shared, KeysAt, RowStride, k, head, a.QRowStride, k0, rows, rowLimit, threads);
            Bf16Fragments.StageRows(shared, ValuesAt, RowStride, v, head, a.QRowStride, k0, rows, rowLimit, threads);
        }
        int keys = KeysAt + warp * 16 * RowStride, values = ValuesAt + warp * 16 * RowStride; // this warp's 16 rows of each
        uint keysAddress = matrices.AAddress(keys, RowStride), valuesAddress = matrices.AAddress(values, RowStride);
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        var (shifts, rowDots) = (shared.SubView(ShiftsAt, Tile), shared.SubView(RowDotsAt, Tile));
        int scoreRow = (Grid.IdxY * stride + key) * stride;

        var dkSum = default(Fragments8);
        var dvSum = default(Fragments8);
        for (int q0 = a.Causal != 0 ? k0 : 0; q0 < tokens; q0 += Tile) // causal: earlier queries see none of these keys
        {
            if (!narrow && a.VectorRows != 0 && q0 + Tile <= tokens)
                StageWholeQueryTile(shared, q, dOutput, head, a.QRowStride, outputHead, outputRow, q0);
            else
                StageQueryTile(shared, q, dOutput, head, a.QRowStride, outputHead, outputRow, q0, rowLimit, columnLimit, threads);
            BackwardFragments.StageRowStatistics(shifts, rowDots, logSumExp, rowDot, bh, tokens, q0, Tile);
            Group.Barrier();
            var p = default(Fragments4);  // Pᵀ: this warp's 16 keys × 32 queries
            var dp = default(Fragments4); // dPᵀ, then dSᵀ
            ProductOverHead(ref p, shared, keys, keysAddress, 0, matrices, d);
            ProductOverHead(ref dp, shared, values, valuesAddress, GradientsAt, matrices, d);
            var tile = new KeyTile(a, key, q0, AllVisible(a, q0, Tile, k0 + warp * 16, 16), scoreRow + q0, stride);
            BackwardFragments.ScoreGradients(ref p.F0, ref dp.F0, scoreGradients, tile, 0, shifts, rowDots, lane);
            BackwardFragments.ScoreGradients(ref p.F1, ref dp.F1, scoreGradients, tile, 8, shifts, rowDots, lane);
            BackwardFragments.ScoreGradients(ref p.F2, ref dp.F2, scoreGradients, tile, 16, shifts, rowDots, lane);
            BackwardFragments.ScoreGradients(ref p.F3, ref dp.F3, scoreGradients, tile, 24, shifts, rowDots, lane);
            Bf16Fragments.Accumulate(ref dvSum, Bf16Fragments.FromAccumulators(p.F0, p.F1), shared, GradientColumnsAt, ColumnStride, 0,
                matrices, d);
            Bf16Fragments.Accumulate(ref dvSum, Bf16Fragments.FromAccumulators(p.F2, p.F3), shared, GradientColumnsAt, ColumnStride, 1,
                matrices, d);
            Bf16Fragments.Accumulate(ref dkSum, Bf16Fragments.FromAccumulators(dp.F0, dp.F1), shared, QueryColumnsAt, ColumnStride, 0,
                matrices, d);
            Bf16Fragments.Accumulate(ref dkSum, Bf16Fragments.FromAccumulators(dp.F2, dp.F3), shared, QueryColumnsAt, ColumnStride, 1,
                matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteRows(dkSum, a.Scale, dk, a, d, head, key, lane);
        BackwardFragments.WriteRows(dvSum, 1f, dv, a, d, head, key, lane);
    }

    /// <summary>
    /// dq += scale·dS·k for 64 queries, dSᵀ read from the scratch <see cref="KeyValue"/> filled. Grid (⌈T/64⌉, heads of the
    /// launch) × <see cref="BlockThreads"/>; <see cref="QuerySharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = BlockThreads)]
    public static void Query(ArrayView<float> k, ArrayView<float> scoreGradients, ArrayView<float> dq, int firstBatchHead,
        AttentionArguments a) =>
        QueryOf(k, scoreGradients, dq, firstBatchHead, a, narrow: false);

    /// <summary>
    /// <see cref="Query"/> for heads of HeadDim &lt; 64 columns (<see cref="Fits"/>): 32 queries, columns from HeadDim on
    /// staged as zeros and not written. Grid (⌈T/32⌉, heads of the launch) × <see cref="Threads"/>.
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
        int tokens = a.Keys, stride = TensorCoreAttentionBackwardKernels.ScoreStride(tokens);
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5;
        var matrices = new LaneMatrices(lane);
        int rows = narrow ? Tile : BlockRows, threads = narrow ? Threads : BlockThreads;
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * rows;
        int d = narrow ? a.HeadDim : HeadWidth, head = b * a.QBatchStride + h * d, limit = narrow ? StagingLimit(tokens, d) : tokens;
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int scores = Grid.IdxY * stride * stride + q0, warpRows = warp * 16 * ColumnStride;

        var dqSum = default(Fragments8);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + rows) : tokens;
        for (int k0 = 0; k0 < keyEnd; k0 += Tile)
        {
            StageScoreGradients(shared, scoreGradients, scores + k0 * stride, stride, rows, threads);
            if (!narrow && a.VectorRows != 0 && k0 + Tile <= tokens)
                Bf16Fragments.StageWholeColumns(shared, KeyColumnsAt, ColumnStride, k, head, a.QRowStride, k0, Tile, BlockThreads,
                    HeadWidth);
            else
                Bf16Fragments.StageColumns(shared, KeyColumnsAt, ColumnStride, k, head, a.QRowStride, k0, Tile, limit, threads);
            Group.Barrier();
            Bf16Fragments.Accumulate(ref dqSum, Bf16Fragments.LoadA(shared, warpRows, ColumnStride, 0, matrices), shared, KeyColumnsAt,
                ColumnStride, 0, matrices, d);
            Bf16Fragments.Accumulate(ref dqSum, Bf16Fragments.LoadA(shared, warpRows, ColumnStride, 1, matrices), shared, KeyColumnsAt,
                ColumnStride, 1, matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteRows(dqSum, a.Scale, dq, a, d, head, query, lane);
    }

    /// <summary>
    /// A key pass's query tile from <paramref name="q0"/> on: Q and dO as pair rows along the head (for Sᵀ and dPᵀ) and as
    /// pair columns along the queries (for dV += Pᵀ·dO and dK += dSᵀ·Q), zeros from the row limits on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StageQueryTile(ArrayView<float> shared, ArrayView<float> q, ArrayView<float> dOutput, int head, int rowStride,
        int outputHead, int outputRow, int q0, int rowLimit, int columnLimit, int threads)
    {
        Bf16Fragments.StageRows(shared, 0, RowStride, q, head, rowStride, q0, Tile, rowLimit, threads);
        Bf16Fragments.StageRows(shared, GradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, rowLimit, threads);
        Bf16Fragments.StageColumns(shared, QueryColumnsAt, ColumnStride, q, head, rowStride, q0, Tile, columnLimit, threads);
        Bf16Fragments.StageColumns(shared, GradientColumnsAt, ColumnStride, dOutput, outputHead, outputRow, q0, Tile, columnLimit,
            threads);
    }

    /// <summary>
    /// <see cref="StageQueryTile"/> for a tile wholly inside the sequence of a head of 64 whose rows start on 16 bytes:
    /// every load a 16-byte one, all of them in flight at once (<see cref="Bf16Fragments.StageWholeRows"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StageWholeQueryTile(ArrayView<float> shared, ArrayView<float> q, ArrayView<float> dOutput, int head,
        int rowStride, int outputHead, int outputRow, int q0)
    {
        Bf16Fragments.StageWholeRows(shared, 0, RowStride, q, head, rowStride, q0, Tile, BlockThreads, HeadWidth);
        Bf16Fragments.StageWholeRows(shared, GradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, BlockThreads, HeadWidth);
        Bf16Fragments.StageWholeColumns(shared, QueryColumnsAt, ColumnStride, q, head, rowStride, q0, Tile, BlockThreads, HeadWidth);
        Bf16Fragments.StageWholeColumns(shared, GradientColumnsAt, ColumnStride, dOutput, outputHead, outputRow, q0, Tile, BlockThreads,
            HeadWidth);
    }

    /// <summary>
    /// Stages 32 keys × <paramref name="queries"/> (32 or 64) of the scratch's dSᵀ (key rows <paramref name="stride"/> apart
    /// from <paramref name="from"/>) as dS pairs along the keys: shared word (query q, pair j) holds keys 2j and 2j + 1. The
    /// scratch is its own buffer, its rows a multiple of 64 apart and its tiles 32 or 64 wide, so every tile is whole and
    /// starts on 16 bytes: 16-byte loads (<see cref="Bf16Fragments.StageWholeColumns"/>).
    /// </summary>
    private static void StageScoreGradients(ArrayView<float> shared, ArrayView<float> scratch, int from, int stride, int queries,
        int threads) =>
        Bf16Fragments.StageWholeColumns(shared, 0, ColumnStride, scratch, from, stride, 0, Tile, threads, queries);

    /// <summary>
    /// c += A·Bᵀ over a head's first <paramref name="columns"/> (of 64): A the warp's 16 staged pair rows at
    /// <paramref name="a"/> (this lane's ldmatrix address of them <paramref name="address"/>), B the 32 staged pair rows
    /// at <paramref name="rows"/>; chunks of 16 columns wholly in a narrower head's zero padding are skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProductOverHead(ref Fragments4 c, ArrayView<float> shared, int a, uint address, int rows,
        in LaneMatrices matrices, int columns)
    {
        Bf16Fragments.Accumulate(ref c, KeyRows(shared, a, address, 0, matrices), shared, rows, RowStride, 0, matrices);
        if (columns > 16) Bf16Fragments.Accumulate(ref c, KeyRows(shared, a, address, 1, matrices), shared, rows, RowStride, 1, matrices);
        if (columns > 32) Bf16Fragments.Accumulate(ref c, KeyRows(shared, a, address, 2, matrices), shared, rows, RowStride, 2, matrices);
        if (columns > 48) Bf16Fragments.Accumulate(ref c, KeyRows(shared, a, address, 3, matrices), shared, rows, RowStride, 3, matrices);
    }

    /// <summary>
    /// The A fragment of k 16c.. of the warp's staged key (or value) rows at <paramref name="rows"/>: on CUDA one ldmatrix
    /// at <paramref name="address"/> + 32c bytes, so that the loop keeps one address per operand; word by word elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static MmaA KeyRows(ArrayView<float> shared, int rows, uint address, int c, in LaneMatrices matrices) =>
        CudaAsm.IsSupported ? Mma.LoadMatrices(address + 32u * (uint)c).A : Bf16Fragments.LoadA(shared, rows, RowStride, c, matrices);
}
