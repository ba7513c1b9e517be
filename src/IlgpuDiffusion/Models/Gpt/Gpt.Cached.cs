using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

public sealed partial class Gpt
{
    /// <summary>
    /// Allocates a KV cache for decoding <paramref name="batch"/> sequences of up to <paramref name="capacity"/> positions.
    /// </summary>
    /// <param name="maxNewTokens">Most tokens per sequence one <see cref="ForwardCached"/> call takes (the prompt
    /// length of the prefill).</param>
    public GptKvCache CreateCache(int batch, int capacity, int maxNewTokens) => new(Config, Device, batch, capacity, maxNewTokens);

    /// <summary>
    /// One KV-cached decoding pass: appends <paramref name="newTokens"/> tokens per sequence at the cache's position
    /// (a whole prompt at once for the prefill, then one token per step), and returns the logits of each sequence's
    /// last new token, i.e. the distribution of its next token. Equals the full causal forward of the sequences so far
    /// at those rows. Allocates nothing.
    /// </summary>
    /// <param name="cache">From <see cref="CreateCache"/>; its position advances by <paramref name="newTokens"/>.</param>
    /// <param name="ids">[batch, newTokens] token ids in [0, V).</param>
    /// <returns>[batch, PaddedVocab] logits (padding from Vocab on), a view into the cache valid until its next pass.</returns>
    public Tensor<float> ForwardCached(GptKvCache cache, Tensor<int> ids, int newTokens)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.Config != Config)
            throw new ArgumentException($"This cache was made for {cache.Config}, not {Config}.", nameof(cache));
        if (newTokens < 1 || newTokens > cache.MaxNewTokens)
            throw new ArgumentOutOfRangeException(nameof(newTokens),
                $"A pass takes 1 to {cache.MaxNewTokens} new tokens per sequence; got {newTokens}.");
        if (cache.Position + newTokens > cache.Capacity)
            throw new InvalidOperationException($"The KV cache holds {cache.Capacity} positions; {cache.Position} are used " +
                $"and {newTokens} more do not fit.");
        int batch = cache.Batch, n = batch * newTokens, d = Config.Hidden;
        Check.Count(ids, n, nameof(ids));
        var a = cache.Activations;
        a.LastForward = null;
        a.TrunkReady = false;
        Embed(a, ids, batch, newTokens, cache.Position, GptDropout.Off);
        for (int l = 0; l < Config.Layers; l++)
            ForwardBlock(a, a.Layers[l], Parameters.Blocks[l], batch, newTokens, cache, l, GptDropout.Off);
        cache.Position += newTokens;

        // the head only on each sequence's last new token: gather those residual rows, then LN_f and the head
        var last = a.Layers[^1].Output;
        if (newTokens > 1)
        {
            if (cache.LastRowsTokens != newTokens)
            {
                var rows = cache.LastRowIndicesHost;
                for (int b = 0; b < batch; b++) rows[b] = b * newTokens + newTokens - 1;
                cache.LastRowIndices.CopyFrom(rows);
                cache.LastRowsTokens = newTokens;
            }
            _k.GatherRows(last, cache.LastRowIndices, a.FinalNorm, batch, d, n); // FinalNorm: free in cached passes
            last = a.FinalNorm;
        }
        FinalNorm(last, cache.LastRows, a.FinalMean, a.FinalRstd, batch);
        var logits = a.Logits.Slice(0, batch);
        _k.LinearForward(cache.LastRows, Parameters.PaddedHeadWeight, null, logits, batch, d, Config.PaddedVocab);
        return logits;
    }
}
