using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu.Attention;

/// <summary>
/// Flash-attention forward on the CPU for a range of queries of one (batch, head), in blocks of
/// <see cref="QueryBlock"/> queries; key blocks of <see cref="KeyBlock"/> are visited once per query block
/// with an online softmax, so no [queries, keys] matrix ever exists. Everything is transposed (queries are
/// columns) so that softmax statistics are vertical vector ops:
///   sᵀ[key, query] = K_blk · (c·Q_blkᵀ)      c = log2(e)/√headDim (base-2 scores)
///   oᵀ[dim, query] = oᵀ·diag(alpha) + V_blkᵀ · pᵀ
/// K and V rows are first copied into contiguous panels (unless already contiguous, as in a KV cache):
/// rows 3·H·d floats apart would alias in the L1 cache when a tile re-reads them.
/// Working memory: two [keys, headDim] panels and three [≤ 64, 64] tiles. A single query (a decode
/// step) takes a row-wise path instead: dot products, softmax and a weighted sum of V rows.
/// </summary>
internal static unsafe class FlashForward
{
    /// <summary>Queries per block (tile columns).</summary>
    public const int QueryBlock = 64;

    /// <summary>Keys per block (tile rows).</summary>
    public const int KeyBlock = 64;

    /// <summary>Base-2 score factor: log2(e)/√headDim.</summary>
    public static float ScoreScale(int headDim) => 1.44269504f / MathF.Sqrt(headDim);

    /// <summary>
    /// Attention of <paramref name="queries"/> queries over the first keys of <paramref name="keys"/>.
    /// Query i sits at position firstQueryPosition + i; with <paramref name="causal"/> it sees keys j ≤ that position.
    /// </summary>
    /// <param name="q">[queries, qStride], the first headDim of each row used</param>
    /// <param name="k">[keys, kvStride]</param>
    /// <param name="v">[keys, kvStride]</param>
    /// <param name="output">[queries, outStride], the first headDim of each row written</param>
    /// <param name="logSumExp">[queries] natural-log log-sum-exp of the scaled scores, or null</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(SimdLevel level, AttentionScratch scratch,
        float* q, long qStride, float* k, float* v, long kvStride, int keys,
        float* output, long outStride, float* logSumExp,
        int queries, int headDim, int firstQueryPosition, bool causal)
    {
        const int ld = QueryBlock;
        if (queries == 0) return;
        int keyEnd = causal ? Math.Min(keys, firstQueryPosition + queries) : keys;
        if (queries == 1)
        {
            // A decode step: one pass over the keys beats a tile padded to 16 queries.
            scratch.Begin(AttentionScratch.Footprint(keyEnd));
            SingleQuery(level, q, k, v, kvStride, keyEnd, output, logSumExp, headDim, scratch.Take(keyEnd));
            return;
        }
        bool pack = kvStride != headDim;
        long panel = pack ? (long)keyEnd * headDim : 0;
        scratch.Begin(2 * AttentionScratch.Footprint(panel) + 2 * AttentionScratch.Footprint((long)headDim * ld)
            + AttentionScratch.Footprint((long)KeyBlock * ld) + 3 * AttentionScratch.Footprint(ld));
        if (pack)
        {
            float* kPanel = scratch.Take(panel), vPanel = scratch.Take(panel);
            for (int j = 0; j < keyEnd; j++)
            {
                new ReadOnlySpan<float>(k + j * kvStride, headDim).CopyTo(new Span<float>(kPanel + (long)j * headDim, headDim));
                new ReadOnlySpan<float>(v + j * kvStride, headDim).CopyTo(new Span<float>(vPanel + (long)j * headDim, headDim));
            }
            k = kPanel;
            v = vPanel;
        }
        var tiles = new Tiles(scratch, headDim);
        for (int q0 = 0; q0 < queries; q0 += QueryBlock)
            Block(level, tiles, q + q0 * qStride, qStride, k, v, pack ? headDim : kvStride, keys,
                output + q0 * outStride, outStride, logSumExp == null ? null : logSumExp + q0,
                Math.Min(QueryBlock, queries - q0), headDim, firstQueryPosition + q0, causal);
    }

    /// <summary>Per-block working tiles: c·Qᵀ and oᵀ [headDim, 64], scores [64, 64], column statistics [64].</summary>
    private readonly struct Tiles(AttentionScratch scratch, int headDim)
    {
        public readonly float* Qt = scratch.Take((long)headDim * QueryBlock), Ot = scratch.Take((long)headDim * QueryBlock);
        public readonly float* S = scratch.Take((long)KeyBlock * QueryBlock);
        public readonly float* Max = scratch.Take(QueryBlock), Sum = scratch.Take(QueryBlock), Alpha = scratch.Take(QueryBlock);
    }

    // One block of ≤ 64 queries: k, v rows are kvStride apart (contiguous panels or a cache).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(SimdLevel level, in Tiles t, float* q, long qStride, float* k, float* v, long kvStride, int keys,
        float* output, long outStride, float* logSumExp, int queries, int headDim, int firstQueryPosition, bool causal)
    {
        const int ld = QueryBlock;
        int n = Simd.RoundUp(queries);
        PackScaledTranspose(q, qStride, queries, n, headDim, t.Qt, ld);
        for (int j = 0; j < n; j++) { t.Max[j] = -1e30f; t.Sum[j] = 0f; }

        int keyEnd = causal ? Math.Min(keys, firstQueryPosition + queries) : keys;
        for (int k0 = 0; k0 < keyEnd; k0 += KeyBlock)
        {
            int rows = Math.Min(KeyBlock, keyEnd - k0);
            TileGemm.Multiply(level, rows, n, headDim, k + k0 * kvStride, kvStride, 1, t.Qt, ld, t.S, ld, TileInit.Zero, null);
            if (causal && k0 + rows - 1 > firstQueryPosition)
                ColumnSoftmax.MaskFuture(t.S, ld, rows, n, k0, firstQueryPosition, float.NegativeInfinity);
            ColumnSoftmax.Update(level, t.S, ld, rows, n, t.Max, t.Sum, t.Alpha);
            TileGemm.Multiply(level, headDim, n, rows, v + k0 * kvStride, 1, kvStride, t.S, ld, t.Ot, ld,
                k0 == 0 ? TileInit.Zero : TileInit.ScaleColumns, t.Alpha);
        }

        for (int i = 0; i < queries; i++)
        {
            float inverse = 1f / t.Sum[i];
            float* row = output + i * outStride;
            for (int d = 0; d < headDim; d++) row[d] = t.Ot[d * ld + i] * inverse;
            if (logSumExp != null) logSumExp[i] = (t.Max[i] + MathF.Log2(t.Sum[i])) * MathF.Log(2f);
        }
    }

    // One query over keyCount keys, row by row: s_j = q·k_j/√d, p = softmax(s), output = Σ p_j·v_j.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SingleQuery(SimdLevel level, float* q, float* k, float* v, long kvStride, int keyCount,
        float* output, float* logSumExp, int headDim, float* scores)
    {
        float scale = 1f / MathF.Sqrt(headDim);
        bool vectors = level == SimdLevel.Vector512 && headDim % Simd.Lane == 0;
        var query = new ReadOnlySpan<float>(q, headDim);
        for (int j = 0; j < keyCount; j++)
            scores[j] = scale * (vectors
                ? Dot(q, k + j * kvStride, headDim)
                : TensorPrimitives.Dot(query, new ReadOnlySpan<float>(k + j * kvStride, headDim)));
        var s = new Span<float>(scores, keyCount);
        float max = TensorPrimitives.Max(s);
        TensorPrimitives.Subtract(s, max, s);
        TensorPrimitives.Exp(s, s);
        float sum = TensorPrimitives.Sum(s);
        TensorPrimitives.Multiply(s, 1f / sum, s);
        var o = new Span<float>(output, headDim);
        o.Clear();
        for (int d0 = 0; vectors && d0 < headDim; d0 += Simd.Lane)
        {
            // Output lanes stay in a register across all keys.
            var acc = Vector512<float>.Zero;
            for (int j = 0; j < keyCount; j++)
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(scores[j]), Vector512.Load(v + j * kvStride + d0), acc);
            acc.Store(output + d0);
        }
        for (int j = 0; !vectors && j < keyCount; j++)
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(v + j * kvStride, headDim), scores[j], o, o);
        if (logSumExp != null) *logSumExp = max + MathF.Log(sum);
    }

    // x·y over headDim (a multiple of 16) floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* x, float* y, int headDim)
    {
        var acc = Vector512.Multiply(Vector512.Load(x), Vector512.Load(y));
        for (int i = Simd.Lane; i < headDim; i += Simd.Lane)
            acc = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(y + i), acc);
        return Vector512.Sum(acc);
    }

    // qt[d, i] = c·q[i, d] for i < queries, 0 for queries ≤ i < n.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackScaledTranspose(float* q, long qStride, int queries, int n, int headDim, float* qt, long ld)
    {
        float c = ScoreScale(headDim);
        for (int i = 0; i < queries; i++)
        {
            float* row = q + i * qStride;
            for (int d = 0; d < headDim; d++) qt[d * ld + i] = row[d] * c;
        }
        for (int d = 0; d < headDim; d++)
            for (int i = queries; i < n; i++) qt[d * ld + i] = 0f;
    }
}
