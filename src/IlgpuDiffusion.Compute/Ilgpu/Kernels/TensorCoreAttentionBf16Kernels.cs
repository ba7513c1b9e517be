using System.Runtime.CompilerServices;
using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Flash-attention forward on BF16 tensor cores (m16n8k16, fp32 accumulate) for heads of up to 64, the bf16 precision's
/// counterpart of <see cref="TensorCoreAttentionKernels.Forward"/> (FlashAttention-2, arXiv 2307.08691): a group of 8
/// warps owns 128 query rows, each warp 16, and walks key tiles of 64; 8 warps, not 4, share the staging of each K and V
/// tile, which halves the instructions a warp spends on it. A warp keeps its queries as A fragments in
/// registers for the whole launch; per tile it computes its 16 × 64 scores in registers, updates the online softmax and
/// multiplies P·V with P still in registers (the m16n8k16 accumulator layout is the A layout of the next product's
/// pairs, so P needs no trip through shared memory, unlike TF32's). Q, K and V are rounded to BF16 once, when staged as
/// pairs: Q and K along the head, V along the keys (transposed while staged). The sums of the softmax use the unrounded
/// probabilities; only P's operand copy is rounded. Shared memory (36 KB): Q [128, 36 words], K [64, 36 words], V
/// [64 head columns, 36 words]; the strides make every fragment read conflict-free. Key tiles wholly inside the
/// sequence of a head of 64 whose rows start on 16 bytes stage with 16-byte loads
/// (<see cref="Bf16Fragments.StageWholeRows"/>). One owner per output element, a fixed order of sums: results repeat
/// bit for bit. The key tiles every query of the group sees whole run without masking; on the others (a causal diagonal,
/// the sequence's edges) a warp masks its scores, or skips the products where its rows see none of the tile's keys, while
/// still staging its share. Arguments as <see cref="AttentionKernels.Forward"/>, so the KV-cache decode step runs here
/// too. Heads narrower than 64 take <see cref="ForwardNarrowHeads"/>, as in the TF32 kernel.
/// </summary>
internal static partial class TensorCoreAttentionBf16Kernels
{
    public const int TileQ = 128, TileK = 64, Warps = TileQ / 16, Threads = Warps * Mma.WarpLanes;

    /// <summary>
    /// The query rows and threads of a <see cref="ForwardNarrowHeads"/> launch: 4 warps, whose 141–142 registers let 3 blocks
    /// share a multiprocessor (at 8 warps it takes 132, one block; with launch bounds of two, ptxas spills 68 bytes).
    /// </summary>
    public const int NarrowTileQ = 64, NarrowThreads = NarrowTileQ / 16 * Mma.WarpLanes;

    /// <summary>Words between staged pair rows: 32 pairs and 4 of padding.</summary>
    private const int Stride = HeadWidth / 2 + 4;

    private const int KOffset = TileQ * Stride, VOffset = KOffset + TileK * Stride;

    /// <summary>Floats of dynamic shared memory a launch needs.</summary>
    public const int SharedFloats = VOffset + HeadWidth * Stride;

    /// <summary>
    /// output [batch, Queries, heads, HeadDim] = softmax(Scale·q·kᵀ)·v; logSumExp [batch, heads, Queries] when WriteLogSumExp ≠ 0.
    /// Grid (⌈Queries/128⌉, batch·heads) × <see cref="Threads"/> threads; <see cref="SharedFloats"/> of shared memory. Its
    /// launch bounds (two blocks a multiprocessor, 128 registers) load from compute capability 9.0 on
    /// (<see cref="TensorCoreGemm.LaunchBoundsFrom"/>): without them ptxas takes 142–144 registers, one block; with them it
    /// spills 20 bytes for sm_80, none for sm_90.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = 2)]
    public static void Forward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a) => Run(q, k, v, output, logSumExp, a, narrow: false);

    /// <summary>
    /// <see cref="Forward"/> for heads of HeadDim &lt; 64 columns (<see cref="Fits"/>): columns from HeadDim on are staged
    /// as zeros and not written. Grid (⌈Queries/64⌉, batch·heads) × <see cref="NarrowThreads"/> threads.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = NarrowThreads)]
    public static void ForwardNarrowHeads(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a) => Run(q, k, v, output, logSumExp, a, narrow: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a, bool narrow)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lane = Group.IdxX & (Mma.WarpLanes - 1), warp = Group.IdxX >> 5;
        var matrices = new LaneMatrices(lane);
        int tileQ = narrow ? NarrowTileQ : TileQ, threads = narrow ? NarrowThreads : Threads;
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * tileQ, d = narrow ? a.HeadDim : HeadWidth;
        int queryLimit = narrow ? Bf16Fragments.PairStagingLimit(a.Queries, d) : a.Queries;
        int keyLimit = narrow ? Bf16Fragments.PairStagingLimit(a.Keys, d) : a.Keys, valueLimit = narrow ? StagingLimit(a.Keys, d) : a.Keys;
        if (!narrow && a.VectorRows != 0 && q0 + TileQ <= a.Queries)
            Bf16Fragments.StageWholeRows(shared, 0, Stride, q, b * a.QBatchStride + h * d, a.QRowStride, q0, TileQ, Threads, HeadWidth);
        else
            Bf16Fragments.StageRows(shared, 0, Stride, q, b * a.QBatchStride + h * d, a.QRowStride, q0, tileQ, queryLimit, threads);
        int kv = b * a.KvBatchStride + h * a.KvHeadStride, keyEnd = OnlineSoftmax.KeyEnd(a, q0, tileQ);
        int warpQuery = q0 + warp * 16, query = warpQuery + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        Group.Barrier();
        var queries = Bf16Fragments.LoadRows64(shared, warp * 16 * Stride, Stride, matrices);

        var o = default(Fragments8);
        var softmax = OnlineSoftmax.Start(a.Scale);
        var tile = new KeyTiles(k, v, kv, keyLimit, valueLimit, warpQuery, narrow);
        // The tiles every query of the block sees whole take no masking; the rest (a causal diagonal, the sequence's edges)
        // are masked, and each warp skips the products of those its rows do not see.
        int k0 = 0;
        for (int visibleEnd = OnlineSoftmax.VisibleEnd(a, q0, tileQ, TileK); k0 < visibleEnd; k0 += TileK)
            Advance(ref o, ref softmax, shared, queries, tile, a, query, k0, d, matrices, masked: false);
        for (; k0 < keyEnd; k0 += TileK)
            Advance(ref o, ref softmax, shared, queries, tile, a, query, k0, d, matrices, masked: true);

        softmax.Finish(o, a, d, bh, query, output, logSumExp, lane);
    }

    /// <summary>Where a launch's K and V tiles come from, and which of them a warp attends to.</summary>
    private readonly record struct KeyTiles(ArrayView<float> K, ArrayView<float> V, int Kv, int KeyLimit, int ValueLimit,
        int WarpQuery, bool Narrow);

    /// <summary>
    /// Stages key tile <paramref name="k0"/> (K as pair rows, V transposed; 16-byte loads where the tile is whole and
    /// aligned) and attends the warp's rows to it: every score, or (<paramref name="masked"/>) scores masked where not
    /// visible and no products at all for a warp whose rows see none of its keys.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Advance(ref Fragments8 o, ref OnlineSoftmax softmax, ArrayView<float> shared, in Bf16Rows64 queries,
        in KeyTiles tile, in AttentionArguments a, int query, int k0, int d, in LaneMatrices matrices, bool masked)
    {
        if (!tile.Narrow && a.VectorRows != 0 && k0 + TileK <= a.Keys)
        {
            Bf16Fragments.StageWholeRows(shared, KOffset, Stride, tile.K, tile.Kv, a.KvRowStride, k0, TileK, Threads, HeadWidth);
            Bf16Fragments.StageWholeColumns(shared, VOffset, Stride, tile.V, tile.Kv, a.KvRowStride, k0, TileK, Threads, HeadWidth);
        }
        else
        {
            int threads = tile.Narrow ? NarrowThreads : Threads;
            Bf16Fragments.StageRows(shared, KOffset, Stride, tile.K, tile.Kv, a.KvRowStride, k0, TileK, tile.KeyLimit, threads);
            Bf16Fragments.StageColumns(shared, VOffset, Stride, tile.V, tile.Kv, a.KvRowStride, k0, TileK, tile.ValueLimit, threads);
        }
        Group.Barrier();
        if (!masked)
            Attend(ref o, ref softmax, queries, shared, a, query, k0, d, visible: true, matrices);
        else if (tile.WarpQuery < a.Queries && k0 < OnlineSoftmax.KeyEnd(a, tile.WarpQuery, 16))
            Attend(ref o, ref softmax, queries, shared, a, query, k0, d, AllVisible(a, tile.WarpQuery, 16, k0, TileK), matrices);
        Group.Barrier();
    }

    /// <summary>
    /// One key tile of a warp's 16 rows: their scores against the staged K, the online softmax's step and P·V into
    /// <paramref name="o"/>; every column past a narrower head <paramref name="d"/> is skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Attend(ref Fragments8 o, ref OnlineSoftmax softmax, in Bf16Rows64 queries, ArrayView<float> shared,
        in AttentionArguments a, int query, int k0, int d, bool visible, in LaneMatrices matrices)
    {
        int lane = matrices.Lane;
        var s = default(Fragments8);
        // Chunks of 16 head columns; those wholly in a narrower head's zero padding are skipped.
        Bf16Fragments.Accumulate(ref s, queries.F0, shared, KOffset, Stride, 0, matrices, TileK);
        if (d > 16) Bf16Fragments.Accumulate(ref s, queries.F1, shared, KOffset, Stride, 1, matrices, TileK);
        if (d > 32) Bf16Fragments.Accumulate(ref s, queries.F2, shared, KOffset, Stride, 2, matrices, TileK);
        if (d > 48) Bf16Fragments.Accumulate(ref s, queries.F3, shared, KOffset, Stride, 3, matrices, TileK);
        Mask(ref s, a, query, k0, visible, lane);
        var correction = softmax.Advance(Max(s));
        softmax.Add(correction, Exponentiate(ref s, softmax));
        Scale(ref o, correction);
        Bf16Fragments.Accumulate(ref o, Bf16Fragments.FromAccumulators(s.F0, s.F1), shared, VOffset, Stride, 0, matrices, d);
        Bf16Fragments.Accumulate(ref o, Bf16Fragments.FromAccumulators(s.F2, s.F3), shared, VOffset, Stride, 1, matrices, d);
        Bf16Fragments.Accumulate(ref o, Bf16Fragments.FromAccumulators(s.F4, s.F5), shared, VOffset, Stride, 2, matrices, d);
        Bf16Fragments.Accumulate(ref o, Bf16Fragments.FromAccumulators(s.F6, s.F7), shared, VOffset, Stride, 3, matrices, d);
    }

    /// <summary>The eight score fragments of keys <paramref name="k0"/>.. masked (see the fragment version).</summary>
    public static void Mask(ref Fragments8 s, in AttentionArguments a, int query, int k0, bool visible, int lane)
    {
        AttentionFragments.Mask(ref s.F0, a, query, k0, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F1, a, query, k0 + 8, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F2, a, query, k0 + 16, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F3, a, query, k0 + 24, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F4, a, query, k0 + 32, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F5, a, query, k0 + 40, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F6, a, query, k0 + 48, visible, keysAreRows: false, lane);
        AttentionFragments.Mask(ref s.F7, a, query, k0 + 56, visible, keysAreRows: false, lane);
    }

    /// <summary>The largest score of each of the lane's two rows in eight fragments (this lane's columns only).</summary>
    public static RowPair Max(in Fragments8 s)
    {
        var left = AttentionFragments.Max(new Fragments4 { F0 = s.F0, F1 = s.F1, F2 = s.F2, F3 = s.F3 });
        var right = AttentionFragments.Max(new Fragments4 { F0 = s.F4, F1 = s.F5, F2 = s.F6, F3 = s.F7 });
        return new RowPair(WarpProducts.Max(left.Low, right.Low), WarpProducts.Max(left.High, right.High));
    }

    /// <summary>
    /// p = exp(Scale·(score − max)) in place for eight fragments, against the rows' max in <paramref name="softmax"/>;
    /// returns this lane's sums of each row.
    /// </summary>
    public static RowPair Exponentiate(ref Fragments8 s, in OnlineSoftmax softmax)
    {
        var (shift, scaleLog2) = (softmax.Shift, softmax.ScaleLog2);
        var p0 = AttentionFragments.Exponentiate(ref s.F0, shift, scaleLog2);
        var p1 = AttentionFragments.Exponentiate(ref s.F1, shift, scaleLog2);
        var p2 = AttentionFragments.Exponentiate(ref s.F2, shift, scaleLog2);
        var p3 = AttentionFragments.Exponentiate(ref s.F3, shift, scaleLog2);
        var p4 = AttentionFragments.Exponentiate(ref s.F4, shift, scaleLog2);
        var p5 = AttentionFragments.Exponentiate(ref s.F5, shift, scaleLog2);
        var p6 = AttentionFragments.Exponentiate(ref s.F6, shift, scaleLog2);
        var p7 = AttentionFragments.Exponentiate(ref s.F7, shift, scaleLog2);
        return new RowPair((p0.Low + p1.Low + p2.Low + p3.Low) + (p4.Low + p5.Low + p6.Low + p7.Low),
            (p0.High + p1.High + p2.High + p3.High) + (p4.High + p5.High + p6.High + p7.High));
    }
}
