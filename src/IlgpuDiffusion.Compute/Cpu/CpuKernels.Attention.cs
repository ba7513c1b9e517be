using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu.Attention;

namespace IlgpuDiffusion.Cpu;

// Multi-head attention (flash style, see Cpu/Attention/): forward, backward and the KV-cached decode step.
public sealed unsafe partial class CpuKernels
{
    private readonly AttentionForwardJob _attentionForward = new();
    private readonly AttentionBackwardJob _attentionBackward = new();

    /// <summary>Vector width of the attention kernels; tests lower it to cover the narrower code paths.</summary>
    internal SimdLevel AttentionLevel { get; set; } = Simd.Best;

    /// <inheritdoc/>
    public void AttentionForward(Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp,
        int batch, int tokens, int heads, int headDim, bool causal)
    {
        OpChecks.Attention(qkv, output, batch, tokens, heads, headDim);
        Check.Count(logSumExp, (long)batch * heads * tokens, nameof(logSumExp));
        long rowStride = 3L * heads * headDim;
        var job = _attentionForward;
        job.Set(AttentionLevel, heads, headDim, tokens, causal);
        // q, k, v of (b, h) start at qkv + b·tokens·3·H·d + slot·H·d + h·d, rows rowStride apart.
        job.Q = qkv.Pointer();
        job.QBatchStride = tokens * rowStride;
        job.QRowStride = rowStride;
        job.K = job.Q + heads * headDim;
        job.V = job.Q + 2 * heads * headDim;
        job.KvBatchStride = tokens * rowStride;
        job.KvHeadStride = headDim;
        job.KvRowStride = rowStride;
        job.Keys = tokens;
        job.Output = output.Pointer();
        job.LogSumExp = logSumExp.Pointer();
        job.FirstPosition = 0;
        job.Run(_pool, batch * heads * job.Splits(batch * heads, _pool.Threads), 1);
    }

    /// <inheritdoc/>
    public void AttentionWithCacheForward(Tensor<float> qkv, Tensor<float> kCache, Tensor<float> vCache, Tensor<float> output,
        int batch, int newTokens, int heads, int headDim, int position, int capacity)
    {
        OpChecks.AttentionWithCache(qkv, kCache, vCache, output, batch, newTokens, heads, headDim, position, capacity);
        float* qkvPointer = qkv.Pointer(), kc = kCache.Pointer(), vc = vCache.Pointer();
        AppendToCache(qkvPointer, kc, vc, batch, newTokens, heads, headDim, position, capacity);

        long rowStride = 3L * heads * headDim;
        var job = _attentionForward;
        job.Set(AttentionLevel, heads, headDim, newTokens, causal: true);
        job.Q = qkvPointer;
        job.QBatchStride = newTokens * rowStride;
        job.QRowStride = rowStride;
        // The cache of (b, h) starts at (b·H + h)·capacity·d, rows headDim apart.
        job.K = kc;
        job.V = vc;
        job.KvBatchStride = (long)heads * capacity * headDim;
        job.KvHeadStride = (long)capacity * headDim;
        job.KvRowStride = headDim;
        job.Keys = position + newTokens;
        job.Output = output.Pointer();
        job.LogSumExp = null;
        job.FirstPosition = position;
        job.Run(_pool, batch * heads * job.Splits(batch * heads, _pool.Threads), 1);
    }

    /// <inheritdoc/>
    public void AttentionBackward(Tensor<float> dOutput, Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp,
        Tensor<float> dQkv, int batch, int tokens, int heads, int headDim, bool causal, bool accumulate = true)
    {
        OpChecks.Attention(qkv, output, batch, tokens, heads, headDim);
        Check.Count(dOutput, (long)batch * tokens * heads * headDim, nameof(dOutput));
        Check.Count(logSumExp, (long)batch * heads * tokens, nameof(logSumExp));
        Check.Count(dQkv, (long)batch * tokens * 3 * heads * headDim, nameof(dQkv));
        var job = _attentionBackward;
        job.Level = AttentionLevel;
        job.Qkv = qkv.Pointer();
        job.DQkv = dQkv.Pointer();
        job.Output = output.Pointer();
        job.DOutput = dOutput.Pointer();
        job.LogSumExp = logSumExp.Pointer();
        (job.Heads, job.HeadDim, job.Tokens, job.Causal, job.Accumulate) = (heads, headDim, tokens, causal, accumulate);
        job.Run(_pool, batch * heads, 1);
    }

    // kCache[b, h, position + t] = k[b, t, h], same for v (a few rows per step: serial).
    private static void AppendToCache(float* qkv, float* kCache, float* vCache,
        int batch, int newTokens, int heads, int headDim, int position, int capacity)
    {
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < newTokens; t++)
                for (int h = 0; h < heads; h++)
                {
                    float* k = qkv + (((long)b * newTokens + t) * 3 + 1) * heads * headDim + h * headDim;
                    long slot = (((long)b * heads + h) * capacity + position + t) * headDim;
                    new ReadOnlySpan<float>(k, headDim).CopyTo(new Span<float>(kCache + slot, headDim));
                    new ReadOnlySpan<float>(k + heads * headDim, headDim).CopyTo(new Span<float>(vCache + slot, headDim));
                }
    }

    /// <summary>
    /// One work item per (batch, head, query range): a head's queries are cut into as few ranges as keep
    /// every thread busy (each range copies the head's K and V once, see <see cref="FlashForward"/>).
    /// </summary>
    private sealed class AttentionForwardJob : ChunkedJob
    {
        public float* Q, K, V, Output, LogSumExp;
        public long QBatchStride, QRowStride, KvBatchStride, KvHeadStride, KvRowStride;
        public int Keys, FirstPosition;
        private SimdLevel _level;
        private int _heads, _headDim, _tokens, _splits;
        private bool _causal;

        public void Set(SimdLevel level, int heads, int headDim, int tokens, bool causal) =>
            (_level, _heads, _headDim, _tokens, _causal) = (level, heads, headDim, tokens, causal);

        /// <summary>Query ranges per head: about four work items per thread, at most one per query block.</summary>
        public int Splits(int batchHeads, int threads)
        {
            int blocks = (_tokens + FlashForward.QueryBlock - 1) / FlashForward.QueryBlock;
            _splits = Math.Clamp((4 * threads + batchHeads - 1) / Math.Max(1, batchHeads), 1, Math.Max(1, blocks));
            return _splits;
        }

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            var scratch = AttentionScratch.ForThisThread;
            int blocks = (_tokens + FlashForward.QueryBlock - 1) / FlashForward.QueryBlock;
            for (int item = start; item < end; item++)
            {
                int head = item / _splits, split = item % _splits;
                int b = head / _heads, h = head % _heads;
                int q0 = blocks * split / _splits * FlashForward.QueryBlock;
                int q1 = Math.Min(_tokens, blocks * (split + 1) / _splits * FlashForward.QueryBlock);
                long kv = b * KvBatchStride + h * KvHeadStride;
                FlashForward.Run(_level, scratch,
                    Q + b * QBatchStride + q0 * QRowStride + h * _headDim, QRowStride,
                    K + kv, V + kv, KvRowStride, Keys,
                    Output + (((long)b * _tokens + q0) * _heads + h) * _headDim, (long)_heads * _headDim,
                    LogSumExp == null ? null : LogSumExp + (long)head * _tokens + q0,
                    q1 - q0, _headDim, FirstPosition + q0, _causal);
            }
        }
    }

    /// <summary>One work item per (batch, head): each thread owns whole heads of dQkv.</summary>
    private sealed class AttentionBackwardJob : ChunkedJob
    {
        public float* Qkv, DQkv, Output, DOutput, LogSumExp;
        public SimdLevel Level;
        public int Heads, HeadDim, Tokens;
        public bool Causal, Accumulate;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            var scratch = AttentionScratch.ForThisThread;
            long stride = 3L * Heads * HeadDim, outStride = (long)Heads * HeadDim;
            for (int head = start; head < end; head++)
            {
                int b = head / Heads, h = head % Heads;
                long qkv = (long)b * Tokens * stride + h * HeadDim, o = (long)b * Tokens * outStride + h * HeadDim;
                long k = Heads * HeadDim, v = 2L * Heads * HeadDim;
                FlashBackward.Run(Level, scratch, Qkv + qkv, Qkv + qkv + k, Qkv + qkv + v, stride,
                    Output + o, DOutput + o, outStride, LogSumExp + (long)head * Tokens,
                    DQkv + qkv, DQkv + qkv + k, DQkv + qkv + v, Tokens, HeadDim, Causal, Accumulate);
            }
        }
    }
}
