using System.Runtime.CompilerServices;
using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The flash backward of heads of 72 to 128 columns (<see cref="WideHeadFragments.Fits"/>) on BF16 tensor cores, the bf16
/// precision's counterpart of <see cref="TensorCoreAttentionBackwardKernels.KeyValueWide"/>: the walk, grids and scratch
/// of <see cref="KeyValue"/> and <see cref="Query"/> over 128 staged columns. The key pass keeps its 32 keys and values
/// as pair rows in shared memory (as fragments in registers they would not fit beside dK and dV, 16 × 128 per warp each)
/// and loads them by ldmatrix for each product; Pᵀ and dSᵀ go from the score accumulators straight into dV and dK, whose
/// B fragments come from the pair rows of Q and dO by transposed ldmatrix. Shared memory of the key pass: K, V, Q, dO
/// [32, 68 pair words]; lse, D [32]: 34.3 KB (<see cref="WideSharedBytes"/>, below the 48 KB a launch may use without
/// opting in; the device sets it where it opts the TF32 key pass in to its 70.8 KB). The query pass needs 11.0 KB: dSᵀ
/// [32 keys, 20 words], k [32, 68 pair words]. Products skip the chunks of 16 head columns and the output fragments of 32
/// wholly past the head; element-by-element staging fills the columns past it with zeros, and tiles wholly inside the
/// sequence of heads of 96 and 128 stage with 16-byte loads, which leave them as they are
/// (<see cref="WideHeadFragments.StagesWhole"/>).
/// </summary>
internal static partial class TensorCoreAttentionBf16BackwardKernels
{
    private const int Width = WideHeadFragments.HeadWidth;

    /// <summary>Words between staged pair rows of a wide head: 64 pairs and 4 of padding.</summary>
    private const int WideRowStride = Width / 2 + 4;

    private const int WideRows = Tile * WideRowStride;

    // KeyValueWide: K, V (owned), Q, dO pair rows (per query tile), lse, D.
    private const int WideValuesAt = WideRows, WideQueriesAt = 2 * WideRows, WideGradientsAt = 3 * WideRows;
    private const int WideShiftsAt = 4 * WideRows, WideRowDotsAt = WideShiftsAt + Tile;

    /// <summary>Floats of dynamic shared memory <see cref="KeyValueWide"/> needs.</summary>
    public const int WideSharedFloats = WideRowDotsAt + Tile;

    /// <summary>Bytes of dynamic shared memory <see cref="KeyValueWide"/> opts in to.</summary>
    public const int WideSharedBytes = WideSharedFloats * sizeof(float);

    // QueryWide: the tile's dS pairs (32 queries), then k's pair rows.
    private const int WideKeyRowsAt = Tile * ColumnStride;

    /// <summary>Floats of dynamic shared memory <see cref="QueryWide"/> needs: the tile's dS pairs, then k's 32 pair rows.</summary>
    public const int WideQuerySharedFloats = WideKeyRowsAt + WideRows;

    /// <summary>
    /// <see cref="KeyValue"/> for heads of 72 to 128 columns: dk, dv += the gradients of 32 keys; dSᵀ into the scratch.
    /// Grid (⌈T/32⌉, heads of the launch) × <see cref="Threads"/>; <see cref="WideSharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void KeyValueWide(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tokens = a.Keys, stride = TensorCoreAttentionBackwardKernels.ScoreStride(tokens);
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5;
        var matrices = new LaneMatrices(lane);
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, k0 = Grid.IdxX * Tile;
        int d = a.HeadDim, head = b * a.QBatchStride + h * d;
        int outputRow = a.Heads * d, outputHead = (b * tokens * a.Heads + h) * d;
        int rowLimit = Bf16Fragments.PairStagingLimit(tokens, d, Width);
        Bf16Fragments.StageRows(shared, 0, WideRowStride, k, head, a.QRowStride, k0, Tile, rowLimit, Threads, Width);
        Bf16Fragments.StageRows(shared, WideValuesAt, WideRowStride, v, head, a.QRowStride, k0, Tile, rowLimit, Threads, Width);
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        int keys = warp * 16 * WideRowStride, values = WideValuesAt + keys;
        var (shifts, rowDots) = (shared.SubView(WideShiftsAt, Tile), shared.SubView(WideRowDotsAt, Tile));
        int pitch = stride / 2, scoreRow = (Grid.IdxY * stride + key) * pitch; // dSᵀ as pairs of queries: words per key
        bool whole = WideHeadFragments.StagesWhole(a);

        var dkSum = default(Fragments16);
        var dvSum = default(Fragments16);
        for (int q0 = a.Causal != 0 ? k0 : 0; q0 < tokens; q0 += Tile) // causal: earlier queries see none of these keys
        {
            if (whole && q0 + Tile <= tokens)
                StageWholeWideQueryTile(shared, q, dOutput, head, a.QRowStride, outputHead, outputRow, q0, d);
            else
            {
                Bf16Fragments.StageRows(shared, WideQueriesAt, WideRowStride, q, head, a.QRowStride, q0, Tile, rowLimit, Threads,
                    Width);
                Bf16Fragments.StageRows(shared, WideGradientsAt, WideRowStride, dOutput, outputHead, outputRow, q0, Tile, rowLimit,
                    Threads, Width);
            }
            BackwardFragments.StageRowStatistics(shifts, rowDots, logSumExp, rowDot, bh, tokens, q0, Tile);
            Group.Barrier();
            var p = default(Fragments4);  // Pᵀ: this warp's 16 keys × 32 queries
            var dp = default(Fragments4); // dPᵀ, then dSᵀ
            ProductOverWideHead(ref p, shared, keys, WideQueriesAt, matrices, d);
            ProductOverWideHead(ref dp, shared, values, WideGradientsAt, matrices, d);
            var tile = new KeyTile(a, key, q0, AllVisible(a, q0, Tile, k0 + warp * 16, 16), scoreRow + q0 / 2, pitch);
            var (low, high) = ScoreGradientPairs(ref p, ref dp, scoreGradients, tile, shifts, rowDots, lane);
            Bf16Fragments.AccumulateFromRows(ref dvSum, Bf16Fragments.FromAccumulators(p.F0, p.F1),
                shared, WideGradientsAt, WideRowStride, 0, matrices, d);
            Bf16Fragments.AccumulateFromRows(ref dvSum, Bf16Fragments.FromAccumulators(p.F2, p.F3),
                shared, WideGradientsAt, WideRowStride, 1, matrices, d);
            Bf16Fragments.AccumulateFromRows(ref dkSum, low, shared, WideQueriesAt, WideRowStride, 0, matrices, d);
            Bf16Fragments.AccumulateFromRows(ref dkSum, high, shared, WideQueriesAt, WideRowStride, 1, matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteWideRows(dkSum, a.Scale, dk, a, head, key, lane);
        BackwardFragments.WriteWideRows(dvSum, 1f, dv, a, head, key, lane);
    }

    /// <summary>
    /// <see cref="Query"/> for heads of 72 to 128 columns: dq += scale·dS·k for 32 queries, dSᵀ read from the scratch
    /// <see cref="KeyValueWide"/> filled. Grid (⌈T/32⌉, heads of the launch) × <see cref="Threads"/>;
    /// <see cref="WideQuerySharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void QueryWide(ArrayView<float> k, ArrayView<float> scoreGradients, ArrayView<float> dq, int firstBatchHead,
        AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tokens = a.Keys, stride = TensorCoreAttentionBackwardKernels.ScoreStride(tokens);
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5;
        var matrices = new LaneMatrices(lane);
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * Tile;
        int d = a.HeadDim, head = b * a.QBatchStride + h * d, rowLimit = Bf16Fragments.PairStagingLimit(tokens, d, Width);
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int pitch = stride / 2, scores = Grid.IdxY * stride * pitch + q0 / 2, warpWords = 8 * warp; // as Query's, 32 queries

        var dqSum = default(Fragments16);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + Tile) : tokens;
        bool whole = WideHeadFragments.StagesWhole(a);
        // The tile's first key row, carried from tile to tile (see TensorCoreAttentionBackwardKernels.Query).
        int keyAt = head;
        for (int k0 = 0; k0 < keyEnd; k0 += Tile, keyAt += Tile * a.QRowStride)
        {
            BackwardFragments.CopyScratchTile(shared, 0, ColumnStride, scoreGradients, scores + k0 * pitch, pitch, Tile / 2, Threads);
            if (whole && k0 + Tile <= tokens)
                WholeRowStaging.StageWide<Bf16PairWords>(shared, WideKeyRowsAt, WideRowStride, k, keyAt, a.QRowStride, 0, Tile, Threads, d);
            else
                Bf16Fragments.StageRows(shared, WideKeyRowsAt, WideRowStride, k, keyAt, a.QRowStride, 0, Tile, rowLimit - k0, Threads,
                    Width);
            Group.Barrier();
            Bf16Fragments.AccumulateFromRows(ref dqSum, ScoreGradientsA(shared, warpWords, ColumnStride, 0, matrices),
                shared, WideKeyRowsAt, WideRowStride, 0, matrices, d);
            Bf16Fragments.AccumulateFromRows(ref dqSum, ScoreGradientsA(shared, warpWords, ColumnStride, 1, matrices),
                shared, WideKeyRowsAt, WideRowStride, 1, matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteWideRows(dqSum, a.Scale, dq, a, head, query, lane);
    }

    /// <summary>
    /// The key pass's query tile of a head of 96 or 128 columns wholly inside the sequence (<see cref="WideHeadFragments.StagesWhole"/>):
    /// Q and dO as pair rows, every load a 16-byte one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StageWholeWideQueryTile(ArrayView<float> shared, ArrayView<float> q, ArrayView<float> dOutput, int head,
        int rowStride, int outputHead, int outputRow, int q0, int columns)
    {
        WholeRowStaging.StageWide<Bf16PairWords>(shared, WideQueriesAt, WideRowStride, q, head, rowStride, q0, Tile, Threads, columns);
        WholeRowStaging.StageWide<Bf16PairWords>(shared, WideGradientsAt, WideRowStride, dOutput, outputHead, outputRow, q0, Tile,
            Threads, columns);
    }

    /// <summary>
    /// c [16, 32] += A·Bᵀ over a wide head's first <paramref name="columns"/>: A the warp's 16 pair rows at word
    /// <paramref name="rows"/>, B the 32 pair rows at <paramref name="lines"/> (both <see cref="WideRowStride"/> apart), by
    /// chunks of 16 columns; the first five always hold head columns (heads of 72 on), the last three only for wider heads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProductOverWideHead(ref Fragments4 c, ArrayView<float> shared, int rows, int lines, in LaneMatrices lane,
        int columns)
    {
        Chunk(ref c, shared, rows, lines, 0, lane);
        Chunk(ref c, shared, rows, lines, 1, lane);
        Chunk(ref c, shared, rows, lines, 2, lane);
        Chunk(ref c, shared, rows, lines, 3, lane);
        Chunk(ref c, shared, rows, lines, 4, lane);
        if (columns > 80) Chunk(ref c, shared, rows, lines, 5, lane);
        if (columns > 96) Chunk(ref c, shared, rows, lines, 6, lane);
        if (columns > 112) Chunk(ref c, shared, rows, lines, 7, lane);
    }

    /// <summary>c += A·Bᵀ over head columns 16·<paramref name="chunk"/>.. (see <see cref="ProductOverWideHead"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Chunk(ref Fragments4 c, ArrayView<float> shared, int rows, int lines, int chunk, in LaneMatrices lane) =>
        Bf16Fragments.Accumulate(ref c, Bf16Fragments.LoadA(shared, rows, WideRowStride, chunk, lane), shared, lines, WideRowStride,
            chunk, lane);
}
