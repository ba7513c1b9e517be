using System.Runtime.CompilerServices;
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

    /// <summary>Accumulates the gradients of one head into dq, dk, dv.</summary>
    /// <param name="q">[tokens, stride] (and k, v, dq, dk, dv: rows of this head inside qkv / dQkv)</param>
    /// <param name="o">[tokens, outStride] forward output (and dO)</param>
    /// <param name="logSumExp">[tokens] saved by the forward</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(SimdLevel level, AttentionScratch scratch,
        float* q, float* k, float* v, long stride, float* o, float* dO, long outStride, float* logSumExp,
        float* dq, float* dk, float* dv, int tokens, int headDim, bool causal)
    {
        int tp = PanelColumns(tokens), dp = Simd.RoundUp(headDim);
        long transposed = (long)headDim * tp, rowPanel = (long)tokens * dp, tile = (long)KeyBlock * QueryBlock;
        scratch.Begin(2 * AttentionScratch.Footprint(transposed) + 5 * AttentionScratch.Footprint(rowPanel)
            + 2 * AttentionScratch.Footprint(tp) + 2 * AttentionScratch.Footprint(tile) + 2 * AttentionScratch.Footprint((long)KeyBlock * dp));
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
        Pack(q, stride, o, dO, outStride, logSumExp, tokens, headDim, tp, dp, qt, dOt, qRows, dORows, lse, delta);
        for (int t = 0; t < tokens; t++)
        {
            new ReadOnlySpan<float>(k + t * stride, headDim).CopyTo(new Span<float>(kRows + (long)t * dp, headDim));
            new ReadOnlySpan<float>(v + t * stride, headDim).CopyTo(new Span<float>(vRows + (long)t * dp, headDim));
            new Span<float>(kRows + (long)t * dp + headDim, dp - headDim).Clear();
        }
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
                AddScaled(dKj + (long)r * dp, scale, dk + (k0 + r) * stride, headDim);
                AddScaled(dVj + (long)r * dp, 1f, dv + (k0 + r) * stride, headDim);
            }
        }
        for (int t = 0; t < tokens; t++) AddScaled(dQRows + (long)t * dp, scale, dq + t * stride, headDim);
    }

    // destination[0..count) += factor·source[0..count)
    private static void AddScaled(float* source, float factor, float* destination, int count)
    {
        var d = new Span<float>(destination, count);
        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(source, count), factor, d, d);
    }

    // Packs c·Qᵀ, dOᵀ (columns ≥ tokens zero), Q and dO rows (columns ≥ headDim zero),
    // lse in base 2 and delta = rowsum(dO∘O) (zero past tokens).
    private static void Pack(float* q, long stride, float* o, float* dO, long outStride, float* logSumExp,
        int tokens, int headDim, int tp, int dp, float* qt, float* dOt, float* qRows, float* dORows, float* lse, float* delta)
    {
        float c = FlashForward.ScoreScale(headDim);
        for (int t = 0; t < tokens; t++)
        {
            float* qr = q + t * stride, gr = dO + t * outStride, or = o + t * outStride;
            float dot = 0f;
            for (int d = 0; d < headDim; d++)
            {
                qt[d * tp + t] = qr[d] * c;
                dOt[d * tp + t] = gr[d];
                qRows[t * dp + d] = qr[d];
                dORows[t * dp + d] = gr[d];
                dot += gr[d] * or[d];
            }
            for (int d = headDim; d < dp; d++) qRows[t * dp + d] = dORows[t * dp + d] = 0f;
            lse[t] = logSumExp[t] * 1.44269504f;
            delta[t] = dot;
        }
        for (int t = tokens; t < tp; t++)
        {
            for (int d = 0; d < headDim; d++) qt[d * tp + t] = dOt[d * tp + t] = 0f;
            lse[t] = delta[t] = 0f;
        }
    }
}
