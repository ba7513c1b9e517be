namespace IlgpuDiffusion.Cpu.Attention;

/// <summary>
/// Flash-attention forward on the CPU for one block of up to <see cref="QueryBlock"/> queries of one
/// (batch, head): key blocks of <see cref="KeyBlock"/> are visited once with an online softmax, so the
/// working memory is three [headDim or KeyBlock, QueryBlock] tiles whatever the sequence length.
/// Everything is transposed (queries are columns) so that softmax statistics are vertical vector ops:
///   sᵀ[key, query] = K_blk · (c·Q_blkᵀ)      c = log2(e)/√headDim (base-2 scores)
///   oᵀ[dim, query] = oᵀ·diag(alpha) + V_blkᵀ · pᵀ
/// Q, K and V are read in place through strides; only c·Qᵀ is packed.
/// </summary>
internal static unsafe class FlashForward
{
    /// <summary>Queries per block (tile columns).</summary>
    public const int QueryBlock = 64;

    /// <summary>Keys per block (tile rows).</summary>
    public const int KeyBlock = 64;

    /// <summary>Scratch floats <see cref="Run"/> takes for a given head size.</summary>
    public static long ScratchFloats(int headDim) =>
        2 * AttentionScratch.Footprint((long)headDim * QueryBlock) + AttentionScratch.Footprint((long)KeyBlock * QueryBlock)
        + 3 * AttentionScratch.Footprint(QueryBlock);

    /// <summary>
    /// Attention of <paramref name="queries"/> (≤ <see cref="QueryBlock"/>) queries over <paramref name="keys"/> keys.
    /// Query i sits at position firstQueryPosition + i; with <paramref name="causal"/> it sees keys j ≤ that position.
    /// </summary>
    /// <param name="q">[queries, qStride], the first headDim of each row used</param>
    /// <param name="k">[keys, kStride]</param>
    /// <param name="v">[keys, vStride]</param>
    /// <param name="output">[queries, outStride], the first headDim of each row written</param>
    /// <param name="logSumExp">[queries] natural-log log-sum-exp of the scaled scores, or null</param>
    public static void Run(SimdLevel level, AttentionScratch scratch,
        float* q, long qStride, float* k, long kStride, float* v, long vStride, int keys,
        float* output, long outStride, float* logSumExp,
        int queries, int headDim, int firstQueryPosition, bool causal)
    {
        const int ld = QueryBlock;
        scratch.Begin(ScratchFloats(headDim));
        float* qt = scratch.Take((long)headDim * ld);   // [headDim, QueryBlock] c·Qᵀ
        float* ot = scratch.Take((long)headDim * ld);   // [headDim, QueryBlock] unnormalized oᵀ
        float* s = scratch.Take((long)KeyBlock * ld);   // [KeyBlock, QueryBlock] scores, then probabilities
        float* max = scratch.Take(ld), sum = scratch.Take(ld), alpha = scratch.Take(ld);
        int n = Simd.RoundUp(queries);
        PackScaledTranspose(q, qStride, queries, n, headDim, qt, ld);
        for (int j = 0; j < n; j++) { max[j] = -1e30f; sum[j] = 0f; }

        int keyEnd = causal ? Math.Min(keys, firstQueryPosition + queries) : keys;
        for (int k0 = 0; k0 < keyEnd; k0 += KeyBlock)
        {
            int rows = Math.Min(KeyBlock, keyEnd - k0);
            TileGemm.Multiply(level, rows, n, headDim, k + k0 * kStride, kStride, 1, qt, ld, s, ld, TileInit.Zero, null);
            if (causal && k0 + rows - 1 > firstQueryPosition)
                ColumnSoftmax.MaskFuture(s, ld, rows, n, k0, firstQueryPosition, float.NegativeInfinity);
            ColumnSoftmax.Update(level, s, ld, rows, n, max, sum, alpha);
            TileGemm.Multiply(level, headDim, n, rows, v + k0 * vStride, 1, vStride, s, ld, ot, ld,
                k0 == 0 ? TileInit.Zero : TileInit.ScaleColumns, alpha);
        }

        for (int i = 0; i < queries; i++)
        {
            float inverse = 1f / sum[i];
            float* row = output + i * outStride;
            for (int d = 0; d < headDim; d++) row[d] = ot[d * ld + i] * inverse;
            if (logSumExp != null) logSumExp[i] = (max[i] + MathF.Log2(sum[i])) * MathF.Log(2f);
        }
    }

    /// <summary>Base-2 score factor: log2(e)/√headDim.</summary>
    public static float ScoreScale(int headDim) => 1.44269504f / MathF.Sqrt(headDim);

    // qt[d, i] = c·q[i, d] for i < queries, 0 for queries ≤ i < n.
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
