using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The flash backward of heads of 72 to 128 columns (<see cref="WideHeadFragments.Fits"/>; the DiT Large preset's 96) on
/// TF32 tensor cores: the key and query passes of the heads of 64, with the same grids, fragments, scratch of dSᵀ and order
/// of sums, on rows staged 128 wide in two halves of 64 columns (zeros past the head; the second half's products skip the
/// k-steps and output fragments wholly in the padding; tiles wholly inside the sequence of heads of 96 and 128 stage with
/// 16-byte loads, <see cref="WideHeadFragments.StagesWhole"/>). Each warp holds its 16 keys' dK and dV (or its 16
/// queries' dQ) for 128 columns in registers. The key pass keeps K, V, Q and dO [32, 132] in shared memory, and one slab per warp that
/// carries Pᵀ into dV and then dSᵀ into dK: 70.8 KB, above the 48 KB a launch may use unless the kernel opts in
/// (<see cref="WideKeyValueSharedBytes"/>; where the driver refuses, such heads keep the backward over materialized
/// scores). The query pass needs 22 KB. Under bf16 <see cref="TensorCoreAttentionBf16BackwardKernels.KeyValueWide"/> and
/// its query pass take their place.
/// </summary>
internal static partial class TensorCoreAttentionBackwardKernels
{
    private const int WideRows = Tile * WideHeadFragments.HeadStride;

    // KeyValueWide: K, V (owned), Q, dO (per query tile), lse, D, then per warp a slab for Pᵀ, then dSᵀ.
    private const int WideValuesAt = WideRows, WideQueriesAt = 2 * WideRows, WideOutputGradientsAt = 3 * WideRows;
    private const int WideShiftsAt = 4 * WideRows, WideRowDotsAt = WideShiftsAt + Tile, WideSlabsAt = WideRowDotsAt + Tile;

    // QueryWide: K read transposed, then the tile's dSᵀ.
    private const int WideScoreGradientsAt = Tile * WideHeadFragments.TransposedHeadStride;

    /// <summary>Floats of dynamic shared memory <see cref="KeyValueWide"/> needs.</summary>
    public const int WideKeyValueSharedFloats = WideSlabsAt + Warps * Slab;

    /// <summary>Floats of dynamic shared memory <see cref="QueryWide"/> needs.</summary>
    public const int WideQuerySharedFloats = WideScoreGradientsAt + Tile * StagedScoreGradients.Stride;

    /// <summary>Bytes of dynamic shared memory <see cref="KeyValueWide"/> opts in to.</summary>
    public const int WideKeyValueSharedBytes = WideKeyValueSharedFloats * sizeof(float);

    /// <summary>
    /// <see cref="KeyValue"/> for heads of 72 to 128 columns: dk, dv += the gradients of 32 keys; dSᵀ into the scratch.
    /// Grid (⌈T/32⌉, heads of the launch) × <see cref="Threads"/>; <see cref="WideKeyValueSharedFloats"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void KeyValueWide(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<float> scoreGradients, int firstBatchHead, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5, tokens = a.Keys, stride = ScoreStride(tokens);
        var matrices = new LaneMatrices(lane);
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, k0 = Grid.IdxX * Tile;
        int d = a.HeadDim, right = d - HeadWidth, rightLimit = StagingLimit(tokens, right);
        int head = b * a.QBatchStride + h * d, outputRow = a.Heads * d, outputHead = (b * tokens * a.Heads + h) * d;
        StageWideRows(shared, 0, WideHeadFragments.HeadStride, k, head, a.QRowStride, k0, tokens, rightLimit);
        StageWideRows(shared, WideValuesAt, WideHeadFragments.HeadStride, v, head, a.QRowStride, k0, tokens, rightLimit);
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        int keys = warp * 16 * WideHeadFragments.HeadStride, values = WideValuesAt + keys;
        int slab = WideSlabsAt + warp * Slab;
        var (shifts, rowDots) = (shared.SubView(WideShiftsAt, Tile), shared.SubView(WideRowDotsAt, Tile));
        int scoreRow = (Grid.IdxY * stride + key) * stride;
        bool whole = WideHeadFragments.StagesWhole(a);

        var dkSum = default(Fragments16);
        var dvSum = default(Fragments16);
        for (int q0 = a.Causal != 0 ? k0 : 0; q0 < tokens; q0 += Tile) // causal: earlier queries see none of these keys
        {
            if (whole && q0 + Tile <= tokens)
            {
                WholeRowStaging.StageWide<Tf32Words>(shared, WideQueriesAt, WideHeadFragments.HeadStride, q, head, a.QRowStride, q0,
                    Tile, Threads, d);
                WholeRowStaging.StageWide<Tf32Words>(shared, WideOutputGradientsAt, WideHeadFragments.HeadStride, dOutput, outputHead,
                    outputRow, q0, Tile, Threads, d);
            }
            else
            {
                StageWideRows(shared, WideQueriesAt, WideHeadFragments.HeadStride, q, head, a.QRowStride, q0, tokens, rightLimit);
                StageWideRows(shared, WideOutputGradientsAt, WideHeadFragments.HeadStride, dOutput, outputHead, outputRow, q0,
                    tokens, rightLimit);
            }
            BackwardFragments.StageRowStatistics(shifts, rowDots, logSumExp, rowDot, bh, tokens, q0, Tile);
            Group.Barrier();
            var p = default(Fragments4);  // Pᵀ: this warp's 16 keys × 32 queries
            var dp = default(Fragments4); // dPᵀ, then dSᵀ
            WideHeadFragments.AccumulateOverHead(ref p, shared, keys, WideQueriesAt, matrices, d);
            WideHeadFragments.AccumulateOverHead(ref dp, shared, values, WideOutputGradientsAt, matrices, d);
            var tile = new KeyTile(a, key, q0, AllVisible(a, q0, Tile, k0 + warp * 16, 16), scoreRow + q0, stride);
            // Pᵀ through the warp's slab into dV, then dSᵀ through the same slab into dK: one slab per warp where the heads of
            // 64 keep two, which puts three blocks on a multiprocessor of 228 KB instead of two.
            float scoreGradientSum = BackwardFragments.ScoreGradients(ref p, ref dp, scoreGradients, tile, shifts, rowDots, lane);
            Store(p, shared, slab, lane, Sum(p));
            Warp.Barrier();
            WideHeadFragments.AccumulateOver32<SlabRows, WideHeadColumns>(ref dvSum, shared, slab, WideOutputGradientsAt, matrices, d);
            Warp.Barrier();
            Store(dp, shared, slab, lane, scoreGradientSum);
            Warp.Barrier();
            WideHeadFragments.AccumulateOver32<SlabRows, WideHeadColumns>(ref dkSum, shared, slab, WideQueriesAt, matrices, d);
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
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5, tokens = a.Keys, stride = ScoreStride(tokens);
        var matrices = new LaneMatrices(lane);
        int bh = firstBatchHead + Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * Tile;
        int d = a.HeadDim, head = b * a.QBatchStride + h * d, rightLimit = StagingLimit(tokens, d - HeadWidth);
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int scores = Grid.IdxY * stride * stride + q0, warpScores = WideScoreGradientsAt + warp * 16;

        var dqSum = default(Fragments16);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + Tile) : tokens;
        bool whole = WideHeadFragments.StagesWhole(a);
        // The tile's first key row, carried from tile to tile (see TensorCoreAttentionBackwardKernels.Query).
        int keyAt = head;
        for (int k0 = 0; k0 < keyEnd; k0 += Tile, keyAt += Tile * a.QRowStride)
        {
            if (whole && k0 + Tile <= tokens)
                WholeRowStaging.StageWide<Tf32Words>(shared, 0, WideHeadFragments.TransposedHeadStride, k, keyAt, a.QRowStride, 0,
                    Tile, Threads, d);
            else
                StageWideRows(shared, 0, WideHeadFragments.TransposedHeadStride, k, keyAt, a.QRowStride, 0, tokens - k0,
                    rightLimit - k0);
            BackwardFragments.CopyScratchTile(shared, WideScoreGradientsAt, StagedScoreGradients.Stride, scoreGradients,
                scores + k0 * stride, stride, Tile, Threads);
            Group.Barrier();
            WideHeadFragments.AccumulateOver32<StagedScoreGradients, WideValueColumns>(ref dqSum, shared, warpScores, 0, matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteWideRows(dqSum, a.Scale, dq, a, head, query, lane);
    }

    /// <summary>
    /// Stages 32 rows of a head 128 wide from row <paramref name="first"/> as two halves of 64 columns (the group's 64
    /// threads stage 64 columns at a time): the first half zero from row <paramref name="tokens"/> on, the second from
    /// <paramref name="rightLimit"/> on (<see cref="AttentionFragments.StagingLimit(int, int)"/> of the head's columns past 64).
    /// </summary>
    private static void StageWideRows(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int tokens, int rightLimit)
    {
        StageRows(shared, offset, stride, source, start, rowStride, first, Tile, tokens, Threads);
        StageRows(shared, offset + HeadWidth, stride, source, start + HeadWidth, rowStride, first, Tile, rightLimit, Threads);
    }
}
