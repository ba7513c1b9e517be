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
/// layout of the next product's pairs: no slabs). Q and dO are staged once, as BF16 pairs along the head: the scores read
/// them so, and dk and dv take their B fragments (pairs along the queries) from the same rows by transposed ldmatrix
/// (<see cref="Bf16Fragments.AccumulateFromRows(ref Fragments8, in MmaA, ILGPU.ArrayView{float}, int, int, int, in LaneMatrices, int)"/>).
/// dSᵀ goes to the scratch as the BF16 pairs of queries the dk product takes (rows of T/2 words, rounded once, half the
/// bytes of the TF32 scratch), for heads of every width.
/// Shared memory (27.3 KB): Q, dO [32, 36 words]; lse, D [32]; K, V [64, 36 words].
/// <see cref="Query"/>: 4 warps own 64 queries and add dq = scale·dS·k, dSᵀ copied from the scratch as it lies and loaded
/// by a transposed ldmatrix as dS's A fragments (pairs along the keys), k staged as pair rows and loaded by a transposed
/// ldmatrix as pairs along the keys. Shared memory (9.0 KB): dSᵀ [32 keys, 36 words]; k [32 keys, 36 words]. The variants
/// for narrower heads keep groups of 2 warps and 32 rows.
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

    /// <summary>Words between staged pair rows (32 pairs and 4 of padding), and between dSᵀ rows of 32 queries (16 and 4).</summary>
    private const int RowStride = HeadWidth / 2 + 4, ColumnStride = Tile / 2 + 4;

    private const int GradientsAt = Tile * RowStride, ShiftsAt = 2 * Tile * RowStride;
    private const int RowDotsAt = ShiftsAt + Tile;
    private const int KeysAt = RowDotsAt + Tile, ValuesAt = KeysAt + BlockRows * RowStride;

    /// <summary>Floats of dynamic shared memory <see cref="KeyValue"/> needs.</summary>
    public const int SharedFloats = ValuesAt + BlockRows * RowStride;

    // Query: the tile's dS pairs, then k's pair rows.
    private const int KeyRowsAt = Tile * (BlockRows / 2 + 4);

    /// <summary>Floats of dynamic shared memory <see cref="Query"/> needs.</summary>
    public const int QuerySharedFloats = KeyRowsAt + Tile * RowStride;

    /// <summary>
    /// dk, dv += the gradients of 64 keys; dSᵀ of those keys into the head's scratch rows. Grid (⌈T/64⌉, heads of the
    /// launch) × <see cref="BlockThreads"/>; <see cref="SharedFloats"/>. Launch bounds of 4 blocks where the GEMMs take
    /// theirs (compute capability 9.0 on): 128 registers for sm_90 with no spill (CUDA 11.8 ptxas); an A100, without them,
    /// also gets 128 (sm_80), so 4 blocks.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = BlockThreads, BlocksPerMultiprocessor = 4)]
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
        int rowLimit = narrow ? Bf16Fragments.PairStagingLimit(tokens, d) : tokens;
        StageOwnedRows(shared, k, v, head, a.QRowStride, k0, rows, rowLimit, threads,
            whole: !narrow && a.VectorRows != 0 && k0 + BlockRows <= tokens);
        int keys = KeysAt + warp * 16 * RowStride, values = ValuesAt + warp * 16 * RowStride; // this warp's 16 rows of each
        uint keysAddress = matrices.AAddress(keys, RowStride), valuesAddress = matrices.AAddress(values, RowStride);
        int key = k0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is key + 8
        var (shifts, rowDots) = (shared.SubView(ShiftsAt, Tile), shared.SubView(RowDotsAt, Tile));
        int pitch = stride / 2, scoreRow = (Grid.IdxY * stride + key) * pitch; // dSᵀ as pairs of queries: words per key

        var dkSum = default(Fragments8);
        var dvSum = default(Fragments8);
        for (int q0 = a.Causal != 0 ? k0 : 0; q0 < tokens; q0 += Tile) // causal: earlier queries see none of these keys
        {
            if (!narrow && a.VectorRows != 0 && q0 + Tile <= tokens)
                StageWholeQueryTile(shared, q, dOutput, head, a.QRowStride, outputHead, outputRow, q0);
            else
                StageQueryTile(shared, q, dOutput, head, a.QRowStride, outputHead, outputRow, q0, rowLimit, threads);
            BackwardFragments.StageRowStatistics(shifts, rowDots, logSumExp, rowDot, bh, tokens, q0, Tile);
            Group.Barrier();
            var tile = new KeyTile(a, key, q0, AllVisible(a, q0, Tile, k0 + warp * 16, 16), scoreRow + q0 / 2, pitch);
            AccumulateQueryTile(ref dkSum, ref dvSum, shared, scoreGradients, tile, new OwnedRows(keys, keysAddress, values,
                valuesAddress), matrices, d);
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
        int d = narrow ? a.HeadDim : HeadWidth, head = b * a.QBatchStride + h * d;
        int limit = narrow ? Bf16Fragments.PairStagingLimit(tokens, d) : tokens;
        int query = q0 + warp * 16 + Mma.AccumulatorRow(lane, 0); // row g's; row g + 8 is query + 8
        int pitch = stride / 2, pairStride = rows / 2 + 4; // the scratch's words per key; the staged tile's, padded
        int scores = Grid.IdxY * stride * pitch + q0 / 2, warpWords = 8 * warp;

        var dqSum = default(Fragments8);
        int keyEnd = a.Causal != 0 ? AttentionKernels.XMin(tokens, q0 + rows) : tokens;
        // The tile's first key row and scratch row, carried from tile to tile: computed from the block's head in the loop,
        // they cost ptxas a division (bh / heads) and the index arithmetic after it again in every tile.
        int keyAt = head;
        for (int k0 = 0; k0 < keyEnd; k0 += Tile)
        {
            BackwardFragments.CopyScratchTile(shared, 0, pairStride, scoreGradients, scores + k0 * pitch, pitch, rows / 2, threads);
            if (!narrow && a.VectorRows != 0 && k0 + Tile <= tokens)
                Bf16Fragments.StageWholeRows(shared, KeyRowsAt, RowStride, k, keyAt, a.QRowStride, 0, Tile, BlockThreads, HeadWidth);
            else
                Bf16Fragments.StageRows(shared, KeyRowsAt, RowStride, k, keyAt, a.QRowStride, 0, Tile, limit - k0, threads);
            keyAt += Tile * a.QRowStride;
            Group.Barrier();
            AccumulateKeyTile(ref dqSum, shared, warpWords, pairStride, matrices, d);
            Group.Barrier();
        }
        BackwardFragments.WriteRows(dqSum, a.Scale, dq, a, d, head, query, lane);
    }

    /// <summary>
    /// A key pass's query tile from <paramref name="q0"/> on: Q and dO as pair rows along the head (for Sᵀ and dPᵀ, and by
    /// transposed loads for dV += Pᵀ·dO and dK += dSᵀ·Q), zeros from the row limit on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StageQueryTile(ArrayView<float> shared, ArrayView<float> q, ArrayView<float> dOutput, int head, int rowStride,
        int outputHead, int outputRow, int q0, int rowLimit, int threads)
    {
        Bf16Fragments.StageRows(shared, 0, RowStride, q, head, rowStride, q0, Tile, rowLimit, threads);
        Bf16Fragments.StageRows(shared, GradientsAt, RowStride, dOutput, outputHead, outputRow, q0, Tile, rowLimit, threads);
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
    }

    /// <summary>
    /// One key tile of a dq pass, its dSᵀ pairs (the warp's at <paramref name="words"/>, rows <paramref name="stride"/>
    /// apart) and k's pair rows staged: dq += dS·k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateKeyTile(ref Fragments8 dqSum, ArrayView<float> shared, int words, int stride,
        in LaneMatrices matrices, int d)
    {
        Bf16Fragments.AccumulateFromRows(ref dqSum, ScoreGradientsA(shared, words, stride, 0, matrices), shared, KeyRowsAt,
            RowStride, 0, matrices, d);
        Bf16Fragments.AccumulateFromRows(ref dqSum, ScoreGradientsA(shared, words, stride, 1, matrices), shared, KeyRowsAt,
            RowStride, 1, matrices, d);
    }

    /// <summary>
    /// A key pass's keys and values k0 .. k0 + rows − 1 as pair rows along the head, zeros from the row limit on; with
    /// 16-byte loads where <paramref name="whole"/> (a whole block of 64 of an aligned head of 64).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StageOwnedRows(ArrayView<float> shared, ArrayView<float> k, ArrayView<float> v, int head, int rowStride,
        int k0, int rows, int rowLimit, int threads, bool whole)
    {
        if (whole)
        {
            Bf16Fragments.StageWholeRows(shared, KeysAt, RowStride, k, head, rowStride, k0, BlockRows, BlockThreads, HeadWidth);
            Bf16Fragments.StageWholeRows(shared, ValuesAt, RowStride, v, head, rowStride, k0, BlockRows, BlockThreads, HeadWidth);
        }
        else
        {
            Bf16Fragments.StageRows(shared, KeysAt, RowStride, k, head, rowStride, k0, rows, rowLimit, threads);
            Bf16Fragments.StageRows(shared, ValuesAt, RowStride, v, head, rowStride, k0, rows, rowLimit, threads);
        }
    }

    /// <summary>The warp's 16 staged keys and values: their first words and this lane's ldmatrix addresses of them.</summary>
    private readonly record struct OwnedRows(int Keys, uint KeysAddress, int Values, uint ValuesAddress);

    /// <summary>
    /// One query tile of a warp's 16 keys, its Q and dO pair rows and row statistics staged: Pᵀ and dPᵀ over the head, dSᵀ
    /// to the scratch, dv += Pᵀ·dO and dk += dSᵀ·Q.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateQueryTile(ref Fragments8 dkSum, ref Fragments8 dvSum, ArrayView<float> shared,
        ArrayView<float> scoreGradients, in KeyTile tile, in OwnedRows owned, in LaneMatrices matrices, int d)
    {
        var p = default(Fragments4);  // Pᵀ: this warp's 16 keys × 32 queries
        var dp = default(Fragments4); // dPᵀ, then dSᵀ
        ProductOverHead(ref p, shared, owned.Keys, owned.KeysAddress, 0, matrices, d);
        ProductOverHead(ref dp, shared, owned.Values, owned.ValuesAddress, GradientsAt, matrices, d);
        var (shifts, rowDots) = (shared.SubView(ShiftsAt, Tile), shared.SubView(RowDotsAt, Tile));
        var (low, high) = ScoreGradientPairs(ref p, ref dp, scoreGradients, tile, shifts, rowDots, matrices.Lane);
        Bf16Fragments.AccumulateFromRows(ref dvSum, Bf16Fragments.FromAccumulators(p.F0, p.F1), shared, GradientsAt, RowStride, 0,
            matrices, d);
        Bf16Fragments.AccumulateFromRows(ref dvSum, Bf16Fragments.FromAccumulators(p.F2, p.F3), shared, GradientsAt, RowStride, 1,
            matrices, d);
        Bf16Fragments.AccumulateFromRows(ref dkSum, low, shared, 0, RowStride, 0, matrices, d);
        Bf16Fragments.AccumulateFromRows(ref dkSum, high, shared, 0, RowStride, 1, matrices, d);
    }

    /// <summary>
    /// Pᵀ and dSᵀ of the warp's 16 keys × 32 queries in registers (<see cref="BackwardFragments.ScoreGradientsInRegisters"/>),
    /// dSᵀ's pair words stored to the scratch (<see cref="StorePairs"/>) and returned as the A fragments of queries 0–15 and
    /// 16–31 for dk += dSᵀ·Q.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (MmaA Low, MmaA High) ScoreGradientPairs(ref Fragments4 p, ref Fragments4 dp, ArrayView<float> scratch,
        in KeyTile tile, ArrayView<float> shifts, ArrayView<float> rowDots, int lane)
    {
        BackwardFragments.ScoreGradientsInRegisters(ref p, ref dp, tile, shifts, rowDots, lane);
        var (low, high) = (Bf16Fragments.FromAccumulators(dp.F0, dp.F1), Bf16Fragments.FromAccumulators(dp.F2, dp.F3));
        StorePairs(low, scratch, tile, 0, lane);
        StorePairs(high, scratch, tile, 8, lane);
        return (low, high);
    }

    /// <summary>
    /// Stores the dSᵀ pairs of an A fragment (the warp's 16 keys × queries 16·<paramref name="chunk"/>/8.. of its
    /// <paramref name="tile"/>, as the dk product takes them) to the scratch: key row g's words from the tile's ScratchRow
    /// on, row g + 8's eight rows (ScratchStride words each) below.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePairs(in MmaA pairs, ArrayView<float> scratch, in KeyTile tile, int chunk, int lane)
    {
        var at = scratch.SubView(tile.ScratchRow + chunk + (lane & 3));
        int below = 8 * tile.ScratchStride;
        at[0] = Interop.IntAsFloat(pairs.A0);
        at[below] = Interop.IntAsFloat(pairs.A1);
        at[4] = Interop.IntAsFloat(pairs.A2);
        at[below + 4] = Interop.IntAsFloat(pairs.A3);
    }

    /// <summary>
    /// The A fragment of dS for the warp's 16 queries × keys 16c.. from dSᵀ pairs staged as [keys, query pair words] (key
    /// r's word w at <paramref name="words"/> + r·<paramref name="stride"/> + w): on CUDA one transposed ldmatrix, whose
    /// four matrices lie where those of two B fragments do (<see cref="LaneMatrices.BAddress"/>); half by half elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static MmaA ScoreGradientsA(ArrayView<float> shared, int words, int stride, int c, in LaneMatrices matrices)
    {
        int first = words + 16 * c * stride;
        if (CudaAsm.IsSupported) return Mma.LoadMatricesTransposed(matrices.BAddress(first, stride)).A;
        int g = matrices.Lane >> 2, k = 2 * (matrices.Lane & 3);
        return new MmaA
        {
            A0 = Bf16Fragments.ColumnPair(shared, first + k * stride, stride, g),
            A1 = Bf16Fragments.ColumnPair(shared, first + k * stride, stride, g + 8),
            A2 = Bf16Fragments.ColumnPair(shared, first + (k + 8) * stride, stride, g),
            A3 = Bf16Fragments.ColumnPair(shared, first + (k + 8) * stride, stride, g + 8),
        };
    }

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
