using System.Runtime.CompilerServices;
using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>Eight BF16 A fragments: a warp's 16 rows × 128 k (a wide head of queries), Left k 0..64, Right 64..128.</summary>
internal struct Bf16Rows128
{
    public Bf16Rows64 Left, Right;
}

/// <summary>
/// Flash-attention forward on BF16 tensor cores for heads of 72 to 128 columns (<see cref="WideHeadFragments.Fits"/>),
/// the bf16 precision's counterpart of <see cref="TensorCoreWideAttentionKernels"/> and the walk of
/// <see cref="TensorCoreAttentionBf16Kernels.Forward"/> (here 4 warps own 64 query rows; key tiles of 64, queries as A
/// fragments in registers, P from the score accumulators straight into P·V) over 128 staged columns. Shared memory (34
/// KB): K, V [64 keys, 68 pair words], V's B fragments loaded from its rows by transposed ldmatrix; the Q tile is staged
/// through K's place before the loop. Each warp holds its 16 × 128 output in registers. The score products skip the chunks of 16 columns
/// wholly past the head, P·V the output fragments of 32 columns wholly past it; element-by-element staging fills the
/// columns past the head with zeros. One owner per output element, a fixed order of sums: results repeat bit for bit.
/// Key tiles wholly inside the sequence of a head of 96 or 128 whose rows start on 16 bytes stage with 16-byte loads,
/// which leave the columns past the head as they are (<see cref="WideHeadFragments.StagesWhole"/>). Arguments as
/// <see cref="AttentionKernels.Forward"/>. The backward of such heads runs on
/// <see cref="TensorCoreAttentionBf16BackwardKernels.KeyValueWide"/> and its query pass.
/// </summary>
internal static class TensorCoreWideAttentionBf16Kernels
{
    public const int TileQ = 64, TileK = 64, Warps = TileQ / 16, Threads = Warps * Mma.WarpLanes;
    private const int Width = WideHeadFragments.HeadWidth;

    /// <summary>Words between staged pair rows of Q, K and V: 64 pairs and 4 of padding.</summary>
    private const int Stride = Width / 2 + 4;

    private const int VOffset = TileK * Stride;

    /// <summary>Floats of dynamic shared memory a launch needs.</summary>
    public const int SharedFloats = VOffset + TileK * Stride;

    /// <summary>
    /// output [batch, Queries, heads, HeadDim] = softmax(Scale·q·kᵀ)·v; logSumExp [batch, heads, Queries] when WriteLogSumExp ≠ 0.
    /// Grid (⌈Queries/64⌉, batch·heads) × <see cref="Threads"/> threads; <see cref="SharedFloats"/> of shared memory.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Forward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5;
        var matrices = new LaneMatrices(lane);
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * TileQ, d = a.HeadDim;
        int queryLimit = Bf16Fragments.PairStagingLimit(a.Queries, d, Width), keyLimit = Bf16Fragments.PairStagingLimit(a.Keys, d, Width);
        if (d == Width && a.VectorRows != 0 && q0 + TileQ <= a.Queries)
            Bf16Fragments.StageWholeRows(shared, 0, Stride, q, b * a.QBatchStride + h * d, a.QRowStride, q0, TileQ, Threads, Width);
        else
            Bf16Fragments.StageRows(shared, 0, Stride, q, b * a.QBatchStride + h * d, a.QRowStride, q0, TileQ, queryLimit, Threads, Width);
        Group.Barrier();
        var queries = new Bf16Rows128
        {
            Left = Bf16Fragments.LoadRows64(shared, warp * 16 * Stride, Stride, matrices),
            Right = Bf16Fragments.LoadRows64(shared, warp * 16 * Stride + Width / 4, Stride, matrices),
        };
        Group.Barrier();
        int kv = b * a.KvBatchStride + h * a.KvHeadStride, keyEnd = OnlineSoftmax.KeyEnd(a, q0, TileQ);
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        bool whole = WideHeadFragments.StagesWhole(a);

        var o = default(Fragments16);
        var softmax = OnlineSoftmax.Start(a.Scale);
        var tile = new KeyTiles(k, v, kv, keyLimit, q0 + warp * 16, whole);
        // The tiles every query of the block sees whole take no masking (TensorCoreAttentionBf16Kernels.Forward likewise).
        int k0 = 0;
        for (int visibleEnd = OnlineSoftmax.VisibleEnd(a, q0, TileQ, TileK); k0 < visibleEnd; k0 += TileK)
            Advance(ref o, ref softmax, shared, queries, tile, a, query, k0, d, matrices, masked: false);
        for (; k0 < keyEnd; k0 += TileK)
            Advance(ref o, ref softmax, shared, queries, tile, a, query, k0, d, matrices, masked: true);

        softmax.Finish(o, a, d, bh, query, output, logSumExp, lane);
    }

    /// <summary>Where a launch's K and V tiles come from, and a warp's first query.</summary>
    private readonly record struct KeyTiles(ArrayView<float> K, ArrayView<float> V, int Kv, int KeyLimit, int WarpQuery, bool Whole);

    /// <summary>
    /// Stages key tile <paramref name="k0"/> and attends the warp's rows to it (scores masked where not visible only
    /// when <paramref name="masked"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Advance(ref Fragments16 o, ref OnlineSoftmax softmax, ArrayView<float> shared, in Bf16Rows128 queries,
        in KeyTiles tile, in AttentionArguments a, int query, int k0, int d, in LaneMatrices matrices, bool masked)
    {
        if (tile.Whole && k0 + TileK <= a.Keys)
        {
            WholeRowStaging.StageWide<Bf16PairWords>(shared, 0, Stride, tile.K, tile.Kv, a.KvRowStride, k0, TileK, Threads, d);
            WholeRowStaging.StageWide<Bf16PairWords>(shared, VOffset, Stride, tile.V, tile.Kv, a.KvRowStride, k0, TileK, Threads, d);
        }
        else
        {
            Bf16Fragments.StageRows(shared, 0, Stride, tile.K, tile.Kv, a.KvRowStride, k0, TileK, tile.KeyLimit, Threads, Width);
            Bf16Fragments.StageRows(shared, VOffset, Stride, tile.V, tile.Kv, a.KvRowStride, k0, TileK, tile.KeyLimit, Threads, Width);
        }
        Group.Barrier();
        var s = default(Fragments8);
        Scores(ref s, queries.Left, shared, 0, matrices, 64);
        Scores(ref s, queries.Right, shared, 4, matrices, d - 64);
        bool visible = !masked || AllVisible(a, tile.WarpQuery, 16, k0, TileK);
        TensorCoreAttentionBf16Kernels.Mask(ref s, a, query, k0, visible, matrices.Lane);
        var correction = softmax.Advance(TensorCoreAttentionBf16Kernels.Max(s));
        softmax.Add(correction, TensorCoreAttentionBf16Kernels.Exponentiate(ref s, softmax));
        WideHeadFragments.Scale(ref o, correction);
        Bf16Fragments.AccumulateFromRows(ref o, Bf16Fragments.FromAccumulators(s.F0, s.F1), shared, VOffset, Stride, 0, matrices, d);
        Bf16Fragments.AccumulateFromRows(ref o, Bf16Fragments.FromAccumulators(s.F2, s.F3), shared, VOffset, Stride, 1, matrices, d);
        Bf16Fragments.AccumulateFromRows(ref o, Bf16Fragments.FromAccumulators(s.F4, s.F5), shared, VOffset, Stride, 2, matrices, d);
        Bf16Fragments.AccumulateFromRows(ref o, Bf16Fragments.FromAccumulators(s.F6, s.F7), shared, VOffset, Stride, 3, matrices, d);
        Group.Barrier();
    }

    /// <summary>
    /// s [16, 64 keys] += Q·Kᵀ over chunks <paramref name="first"/>.. of 16 head columns, those of the first
    /// <paramref name="columns"/> from the chunk's start (chunks wholly past the head are skipped).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores(ref Fragments8 s, in Bf16Rows64 q, ArrayView<float> shared, int first, in LaneMatrices lane,
        int columns)
    {
        Bf16Fragments.Accumulate(ref s, q.F0, shared, 0, Stride, first, lane, TileK);
        if (columns > 16) Bf16Fragments.Accumulate(ref s, q.F1, shared, 0, Stride, first + 1, lane, TileK);
        if (columns > 32) Bf16Fragments.Accumulate(ref s, q.F2, shared, 0, Stride, first + 2, lane, TileK);
        if (columns > 48) Bf16Fragments.Accumulate(ref s, q.F3, shared, 0, Stride, first + 3, lane, TileK);
    }
}
