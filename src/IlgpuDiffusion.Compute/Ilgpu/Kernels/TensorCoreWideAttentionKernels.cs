using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionFragments;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Flash-attention forward on TF32 tensor cores for heads of 72 to 128 columns (<see cref="WideHeadFragments.Fits"/>;
/// the DiT Large preset's 96): <see cref="TensorCoreAttentionKernels.Forward"/>'s walk (FlashAttention-2, arXiv
/// 2307.08691: 4 warps own 64 query rows, key tiles of 32, online softmax, P through a slab of the warp's own) with the
/// queries in registers instead of shared memory. A 128-wide Q tile would take 33 KB on its own; staged once through
/// the K and V stages and loaded as A fragments, it leaves K [32, 132], V [32, 136] and the P slabs: 43.5 KB. Each warp
/// holds its 16 × 128 output in registers. The products skip the k-steps and the output fragments of 32 columns wholly
/// past the head, whose columns element-by-element staging fills with zeros; key tiles wholly inside the sequence of a
/// head of 96 or 128 whose rows start on 16 bytes stage with 16-byte loads and leave them as they are
/// (<see cref="WideHeadFragments.StagesWhole"/>). One owner
/// per output element, a fixed order of sums: results repeat bit for bit. Arguments as
/// <see cref="AttentionKernels.Forward"/>, so the KV-cache decode step runs here too. The backward of such heads runs
/// on <see cref="TensorCoreAttentionBackwardKernels.KeyValueWide"/> and its query pass where the GPU grants their
/// shared memory, else over materialized scores (IlgpuKernels.ScoreAttention.cs), from this forward's log-sum-exp.
/// </summary>
internal static class TensorCoreWideAttentionKernels
{
    public const int TileQ = 64, TileK = 32, Warps = TileQ / 16, Threads = Warps * Mma.WarpLanes;
    private const int Width = WideHeadFragments.HeadWidth, RowStride = WideHeadFragments.HeadStride;
    private const int VOffset = TileK * RowStride, POffset = VOffset + TileK * WideHeadFragments.TransposedHeadStride;

    /// <summary>Floats of dynamic shared memory a launch needs (the Q tile, staged before the loop, fits under the P slabs).</summary>
    public const int SharedFloats = POffset + Warps * Slab;

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
        int queryLimit = StagingLimit(a.Queries, d, Width), keyLimit = StagingLimit(a.Keys, d, Width);
        StageRows(shared, 0, RowStride, q, b * a.QBatchStride + h * d, a.QRowStride, q0, TileQ, queryLimit, Threads, Width);
        Group.Barrier();
        var (left, right) = WideHeadFragments.LoadQueries(shared, warp * 16 * RowStride, matrices);
        Group.Barrier();
        int kv = b * a.KvBatchStride + h * a.KvHeadStride, keyEnd = OnlineSoftmax.KeyEnd(a, q0, TileQ);
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int probabilities = POffset + warp * Slab;
        bool whole = WideHeadFragments.StagesWhole(a);

        var o = default(Fragments16);
        var softmax = OnlineSoftmax.Start(a.Scale);
        for (int k0 = 0; k0 < keyEnd; k0 += TileK)
        {
            if (whole && k0 + TileK <= a.Keys)
            {
                WholeRowStaging.StageWide<Tf32Words>(shared, 0, RowStride, k, kv, a.KvRowStride, k0, TileK, Threads, d);
                WholeRowStaging.StageWide<Tf32Words>(shared, VOffset, WideHeadFragments.TransposedHeadStride, v, kv, a.KvRowStride,
                    k0, TileK, Threads, d);
            }
            else
            {
                StageRows(shared, 0, RowStride, k, kv, a.KvRowStride, k0, TileK, keyLimit, Threads, Width);
                StageRows(shared, VOffset, WideHeadFragments.TransposedHeadStride, v, kv, a.KvRowStride, k0, TileK, keyLimit,
                    Threads, Width);
            }
            Group.Barrier();
            var s = default(Fragments4);
            WideHeadFragments.Scores(ref s, left, right, shared, 0, matrices, d);
            var correction = softmax.ToSlab(ref s, a, query, k0, AllVisible(a, q0 + warp * 16, 16, k0, TileK), shared, probabilities,
                lane);
            WideHeadFragments.Scale(ref o, correction);
            Warp.Barrier();
            WideHeadFragments.AccumulateOver32<SlabRows, WideValueColumns>(ref o, shared, probabilities, VOffset, matrices, d);
            Group.Barrier();
        }

        softmax.Finish(o, a, d, bh, query, output, logSumExp, lane);
    }
}
