using System.Runtime.CompilerServices;
using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Flash-attention forward on TF32 tensor cores for heads of up to 64 (FlashAttention-2, arXiv 2307.08691): a group of
/// 4 warps owns 64 query rows, each warp 16, and walks the key tiles of 32 (causal: up to the last key its rows may
/// see). Per tile a warp computes its 16 × 32 scores S = Q·Kᵀ in registers, masks them (only on the tiles that some
/// query of the group does not see whole: those run in a loop of their own), updates each row's running max
/// and sum (online softmax: quad shuffles for the max, per-lane partial sums reduced once at the end), rescales its
/// 16 × 64 output accumulators and adds P·V, with P passing through a 16 × 32 shared-memory slab of the warp's own (the
/// accumulator layout of S is not the A-operand layout of P for TF32). Q, K, V are rounded to TF32 once, when staged; P
/// when stored; key tiles wholly inside the sequence of a head of 64 whose rows start on 16 bytes stage with 16-byte
/// loads (<see cref="AttentionFragments.StageWholeRows"/>). Shared memory (43.5 KB): Q [64, 68], K [32, 68], V
/// [32, 72], P [4 warps, 16, 36]; the strides make every fragment read conflict-free. One owner per output element, a
/// fixed order of sums: results repeat bit for bit. Arguments as <see cref="AttentionKernels.Forward"/>, so the
/// KV-cache decode step runs here too. Heads narrower than 64 take <see cref="ForwardNarrowHeads"/>, the same kernel
/// with zero padding columns, so that heads of 64 pay nothing for it.
/// </summary>
internal static class TensorCoreAttentionKernels
{
    public const int TileQ = 64, TileK = 32, Warps = TileQ / 16, Threads = Warps * Mma.WarpLanes;
    private const int RowStride = HeadStride, ValueStride = TransposedHeadStride;
    private const int KOffset = TileQ * RowStride, VOffset = KOffset + TileK * RowStride, POffset = VOffset + TileK * ValueStride;

    /// <summary>Floats of dynamic shared memory a launch needs.</summary>
    public const int SharedFloats = POffset + Warps * Slab;

    /// <summary>
    /// output [batch, Queries, heads, HeadDim] = softmax(Scale·q·kᵀ)·v; logSumExp [batch, heads, Queries] when WriteLogSumExp ≠ 0.
    /// Grid (⌈Queries/64⌉, batch·heads) × <see cref="Threads"/> threads; <see cref="SharedFloats"/> of shared memory.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Forward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a) => Run(q, k, v, output, logSumExp, a, narrow: false);

    /// <summary>
    /// <see cref="Forward"/> for heads of HeadDim &lt; 64 columns (<see cref="Fits"/>): columns from HeadDim on are staged
    /// as zeros and not written.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void ForwardNarrowHeads(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a) => Run(q, k, v, output, logSumExp, a, narrow: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a, bool narrow)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5;
        var matrices = new LaneMatrices(lane);
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * TileQ, d = narrow ? a.HeadDim : HeadWidth;
        int queryLimit = narrow ? StagingLimit(a.Queries, d) : a.Queries, keyLimit = narrow ? StagingLimit(a.Keys, d) : a.Keys;
        if (!narrow && a.VectorRows != 0 && q0 + TileQ <= a.Queries)
            StageWholeRows(shared, 0, RowStride, q, b * a.QBatchStride + h * d, a.QRowStride, q0, TileQ, Threads, HeadWidth);
        else
            StageRows(shared, 0, RowStride, q, b * a.QBatchStride + h * d, a.QRowStride, q0, TileQ, queryLimit, Threads);
        int kv = b * a.KvBatchStride + h * a.KvHeadStride, keyEnd = OnlineSoftmax.KeyEnd(a, q0, TileQ);
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int queries = warp * 16 * RowStride, probabilities = POffset + warp * Slab;

        var o = default(Fragments8);
        var softmax = OnlineSoftmax.Start(a.Scale);
        var tile = new KeyTiles(k, v, kv, keyLimit, q0 + warp * 16, queries, probabilities, narrow);
        // The tiles every query of the block sees whole take no masking (TensorCoreAttentionBf16Kernels.Forward likewise).
        int k0 = 0;
        for (int visibleEnd = OnlineSoftmax.VisibleEnd(a, q0, TileQ, TileK); k0 < visibleEnd; k0 += TileK)
            Advance(ref o, ref softmax, shared, tile, a, query, k0, d, matrices, masked: false);
        for (; k0 < keyEnd; k0 += TileK)
            Advance(ref o, ref softmax, shared, tile, a, query, k0, d, matrices, masked: true);

        softmax.Finish(o, a, d, bh, query, output, logSumExp, lane);
    }

    /// <summary>Where a launch's K and V tiles come from, and a warp's first query and places in shared memory.</summary>
    private readonly record struct KeyTiles(ArrayView<float> K, ArrayView<float> V, int Kv, int KeyLimit, int WarpQuery,
        int Queries, int Probabilities, bool Narrow);

    /// <summary>
    /// Stages key tile <paramref name="k0"/> (16-byte loads where it is whole and aligned) and attends the warp's rows to
    /// it: scores, the online softmax's step through the warp's slab, P·V; scores masked where not visible only when
    /// <paramref name="masked"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Advance(ref Fragments8 o, ref OnlineSoftmax softmax, ArrayView<float> shared, in KeyTiles tile,
        in AttentionArguments a, int query, int k0, int d, in LaneMatrices matrices, bool masked)
    {
        if (!tile.Narrow && a.VectorRows != 0 && k0 + TileK <= a.Keys)
        {
            WholeRowStaging.StagePair<Tf32Words>(shared, new RowSource(tile.K, tile.Kv, a.KvRowStride), KOffset, RowStride,
                new RowSource(tile.V, tile.Kv, a.KvRowStride), VOffset, ValueStride, k0, TileK, Threads, HeadWidth);
        }
        else
        {
            StageRows(shared, KOffset, RowStride, tile.K, tile.Kv, a.KvRowStride, k0, TileK, tile.KeyLimit, Threads);
            StageRows(shared, VOffset, ValueStride, tile.V, tile.Kv, a.KvRowStride, k0, TileK, tile.KeyLimit, Threads);
        }
        Group.Barrier();
        var s = default(Fragments4);
        WarpProducts.AccumulateOverHead<HeadRows, HeadRows>(ref s, shared, tile.Queries, KOffset, matrices, d);
        bool visible = !masked || AllVisible(a, tile.WarpQuery, 16, k0, TileK);
        var correction = softmax.ToSlab(ref s, a, query, k0, visible, shared, tile.Probabilities, matrices.Lane);
        Scale(ref o, correction);
        Warp.Barrier();
        WarpProducts.AccumulateOver32<SlabRows, ValueColumns>(ref o, shared, tile.Probabilities, VOffset, matrices, d);
        Group.Barrier();
    }
}
