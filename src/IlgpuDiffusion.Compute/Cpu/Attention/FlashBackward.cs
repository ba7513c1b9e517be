using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu.Attention;

/// <summary>
/// Flash-attention-2 backward on the CPU for one (batch, head), probabilities recomputed from the saved
/// log-sum-exp. Outer loop over key blocks (dK_j, dV_j stay in a small tile), inner loop over query
/// blocks; with queries as columns (c = log2(e)/√d, scale = 1/√d):
///   sᵀ  = K_j·(c·Q_iᵀ);  pᵀ = 2^(sᵀ − lse·log2 e)       [KeyBlock, QueryBlock]
///   dpᵀ = V_j·dO_iᵀ;     dsᵀ = pᵀ∘(dpᵀ − delta_i)       delta = rowsum(dO∘O)
///   dV_j += pᵀ·dO_i;  dK_j += dsᵀ·Q_i;  dQ_i += ds·K_j
/// dK and dV gain scale and land in dQkv after each key block, dQ after the last. One thread owns the
/// whole head, so no two threads write the same gradient and the result is deterministic.
/// K and V are copied into contiguous panels first (rows 3·H·d apart would alias in L1 when re-read).
/// Working memory: seven [tokens, headDim] panels plus tiles, never tokens².
/// </summary>
internal static unsafe class FlashBackward
{
    private const int QueryBlock = FlashForward.QueryBlock, KeyBlock = FlashForward.KeyBlock;

    /// <summary>
    /// Columns of the transposed [headDim, tokens] panels: tokens rounded up to an odd number of lanes
    /// (64-byte lines), so the rows of a tile fall into distinct L1 sets; with an even count (T = 1024:
    /// rows 4 KiB apart) they would all compete for one set.
    /// </summary>
    private static int PanelColumns(int tokens) => ((tokens + Simd.Lane - 1) / Simd.Lane | 1) * Simd.Lane;

    /// <summary>Accumulates the gradients of one head into dq, dk, dv, or writes them when not <paramref name="accumulate"/>.</summary>
    /// <param name="q">[tokens, stride] (and k, v, dq, dk, dv: rows of this head inside qkv / dQkv)</param>
    /// <param name="o">[tokens, outStride] forward output (and dO)</param>
    /// <param name="logSumExp">[tokens] saved by the forward</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(SimdLevel level, AttentionScratch scratch,
        float* q, float* k, float* v, long stride, float* o, float* dO, long outStride, float* logSumExp,
        float* dq, float* dk, float* dv, int tokens, int headDim, bool causal, bool accumulate)
    {
        int tp = PanelColumns(tokens), dp = Simd.RoundUp(headDim);
        long transposed = (long)headDim * tp, rowPanel = (long)tokens * dp, tile = (long)KeyBlock * QueryBlock;
        scratch.Begin(2 * AttentionScratch.Footprint(transposed) + 5 * AttentionScratch.Footprint(rowPanel)
            + 2 * AttentionScratch.Footprint(tp) + 2 * AttentionScratch.Footprint(tile)
            + 2 * AttentionScratch.Footprint((long)KeyBlock * dp));
        float* qt = scratch.Take(transposed);           // [headDim, tp]  c·Qᵀ
        float* dOt = scratch.Take(transposed);          // [headDim, tp]  dOᵀ
        float* qRows = scratch.Take(rowPanel);          // [tokens, dp]   Q, zero-padded columns
        float* dORows = scratch.Take(rowPanel);         // [tokens, dp]   dO, zero-padded columns
        float* kRows = scratch.Take(rowPanel);          // [tokens, dp]   K
        float* vRows = scratch.Take(rowPanel);          // [tokens, dp]   V
        float* dQRows = scratch.Take(rowPanel);         // [tokens, dp]   Σ ds·K
        float* lse = scratch.Take(tp), delta = scratch.Take(tp);
        float* s = scratch.Take(tile), ds = scratch.Take(tile);
        float* dKj = scratch.Take((long)KeyBlock * dp), dVj = scratch.Take((long)KeyBlock * dp);
        Pack(q, k, v, stride, o, dO, outStride, logSumExp, tokens, headDim, tp, dp, qRows, dORows, kRows, vRows, qt, dOt, lse, delta);
        new Span<float>(dQRows, tokens * dp).Clear();
        float scale = 1f / MathF.Sqrt(headDim);

        for (int k0 = 0; k0 < tokens; k0 += KeyBlock)
        {
            int rows = Math.Min(KeyBlock, tokens - k0);
            new Span<float>(dKj, rows * dp).Clear();
            new Span<float>(dVj, rows * dp).Clear();
            float* kj = kRows + (long)k0 * dp, vj = vRows + (long)k0 * dp;
            for (int q0 = causal ? k0 / QueryBlock * QueryBlock : 0; q0 < tokens; q0 += QueryBlock)
            {
                int queries = Math.Min(QueryBlock, tokens - q0), n = Simd.RoundUp(queries);
                TileGemm.Multiply(level, rows, n, headDim, kj, dp, 1, qt + q0, tp, s, QueryBlock, TileInit.Zero, null);
                ColumnSoftmax.Probabilities(level, s, QueryBlock, rows, n, lse + q0);
                if (causal && k0 + rows - 1 > q0) ColumnSoftmax.MaskFuture(s, QueryBlock, rows, n, k0, q0, 0f);
                TileGemm.Multiply(level, rows, n, headDim, vj, dp, 1, dOt + q0, tp, ds, QueryBlock, TileInit.Zero, null);
                TileGemm.Multiply(level, rows, dp, queries, s, QueryBlock, 1, dORows + q0 * dp, dp, dVj, dp, TileInit.Accumulate, null);
                ColumnSoftmax.ScoreGradient(level, s, ds, QueryBlock, rows, n, delta + q0);
                TileGemm.Multiply(level, rows, dp, queries, ds, QueryBlock, 1, qRows + q0 * dp, dp, dKj, dp, TileInit.Accumulate, null);
                TileGemm.Multiply(level, queries, dp, rows, ds, 1, QueryBlock, kj, dp, dQRows + q0 * dp, dp, TileInit.Accumulate, null);
            }
            for (int r = 0; r < rows; r++)
            {
                AddScaled(dKj + (long)r * dp, scale, dk + (k0 + r) * stride, headDim, accumulate);
                AddScaled(dVj + (long)r * dp, 1f, dv + (k0 + r) * stride, headDim, accumulate);
            }
        }
        for (int t = 0; t < tokens; t++) AddScaled(dQRows + (long)t * dp, scale, dq + t * stride, headDim, accumulate);
    }

    // destination[0..count) += factor·source[0..count), or = when not accumulating (one head row: a few vectors, no call
    // overhead)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddScaled(float* source, float factor, float* destination, int count, bool accumulate)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var f = Vector512.Create(factor); i + 16 <= count; i += 16)
            {
                var prior = accumulate ? Vector512.Load(destination + i) : Vector512<float>.Zero;
                Vector512.FusedMultiplyAdd(Vector512.Load(source + i), f, prior).Store(destination + i);
            }
        for (; i < count; i++) destination[i] = (accumulate ? destination[i] : 0f) + factor * source[i];
    }

    // Copies Q, dO, K, V rows (columns ≥ headDim zero), lse in base 2 and delta = rowsum(dO∘O);
    // then transposes c·Q and dO from those rows, 16 tokens at a time (columns ≥ tokens zero).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pack(float* q, float* k, float* v, long stride, float* o, float* dO, long outStride, float* logSumExp,
        int tokens, int headDim, int tp, int dp, float* qRows, float* dORows, float* kRows, float* vRows,
        float* qt, float* dOt, float* lse, float* delta)
    {
        for (int t = 0; t < tokens; t++)
        {
            long row = (long)t * dp;
            var gradient = new ReadOnlySpan<float>(dO + t * outStride, headDim);
            CopyRow(q + t * stride, qRows + row, headDim, dp);
            CopyRow(dO + t * outStride, dORows + row, headDim, dp);
            CopyRow(k + t * stride, kRows + row, headDim, dp);
            CopyRow(v + t * stride, vRows + row, headDim, dp);
            lse[t] = logSumExp[t] * 1.44269504f;
            delta[t] = TensorPrimitives.Dot(gradient, new ReadOnlySpan<float>(o + t * outStride, headDim));
        }
        for (int t = tokens; t < tp; t++) lse[t] = delta[t] = 0f;
        float c = FlashForward.ScoreScale(headDim);
        for (int t0 = 0; t0 < tp; t0 += Simd.Lane)
        {
            int end = Math.Min(tokens, t0 + Simd.Lane);
            for (int d = 0; d < headDim; d++)
            {
                float* qc = qt + (long)d * tp, gc = dOt + (long)d * tp;
                int t = t0;
                for (; t < end; t++)
                {
                    qc[t] = qRows[(long)t * dp + d] * c;
                    gc[t] = dORows[(long)t * dp + d];
                }
                for (; t < t0 + Simd.Lane; t++) qc[t] = gc[t] = 0f;
            }
        }
    }

    // destination[0..headDim) = source, destination[headDim..dp) = 0.
    private static void CopyRow(float* source, float* destination, int headDim, int dp)
    {
        new ReadOnlySpan<float>(source, headDim).CopyTo(new Span<float>(destination, headDim));
        new Span<float>(destination + headDim, dp - headDim).Clear();
    }
}
