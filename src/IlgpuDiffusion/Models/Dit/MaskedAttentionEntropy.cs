using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Models;

/// <summary>
/// How widely the MASK positions look in one block: the attention entropy H = −Σⱼ pⱼ log pⱼ (nats) of every query whose
/// input token is MASK, averaged over those queries and the heads. In the first block every masked query is the same
/// vector, so a collapse there (H near 0: all of them lock onto one key) means the model cannot read its context;
/// uniform attention over L keys gives log L. Read from a training arena's saved q and k of the last forward pass, on
/// the host (a diagnostic for log lines, not a step's work); the host buffer is allocated once.
/// </summary>
public sealed class MaskedAttentionEntropy
{
    private readonly float[] _qkv;
    private readonly float[] _scores;

    /// <summary>Prepares measurements on the activations of batches of <paramref name="batch"/> × <paramref name="tokens"/>.</summary>
    public MaskedAttentionEntropy(DitConfig config, int batch, int tokens)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config.Validate();
        Batch = batch;
        Tokens = tokens;
        _qkv = new float[checked(3L * batch * tokens * config.Hidden)];
        _scores = new float[tokens];
    }

    /// <summary>The model shape.</summary>
    public DitConfig Config { get; }

    /// <summary>Sequences per batch.</summary>
    public int Batch { get; }

    /// <summary>Tokens per sequence.</summary>
    public int Tokens { get; }

    /// <summary>
    /// The mean entropy (nats) of block <paramref name="layer"/>'s attention over the queries at MASK positions of
    /// <paramref name="ids"/>, the input of the last forward pass on <paramref name="activations"/>; NaN when no
    /// position is masked.
    /// </summary>
    /// <param name="activations">A training arena (it keeps every block's q and k) of this shape.</param>
    /// <param name="ids">[batch, tokens] the ids of that forward pass.</param>
    /// <param name="layer">The block, 0 for the first.</param>
    /// <exception cref="ArgumentException">The arena is no training arena of this shape, or ids has the wrong length.</exception>
    public double Measure(DitActivations activations, ReadOnlySpan<int> ids, int layer = 0)
    {
        ArgumentNullException.ThrowIfNull(activations);
        if (!activations.Training || activations.Config != Config || activations.Batch != Batch || activations.Tokens != Tokens)
            throw new ArgumentException($"Needs a training arena of {Batch} × {Tokens} for this model.", nameof(activations));
        if (ids.Length != Batch * Tokens)
            throw new ArgumentException($"Needs {Batch * Tokens} ids; got {ids.Length}.", nameof(ids));
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Config.Layers);
        activations.Layers[layer].Qkv.CopyTo(_qkv);

        int heads = Config.Heads, headDim = Config.HeadDim, d = Config.Hidden;
        float scale = 1f / MathF.Sqrt(headDim);
        double sum = 0;
        long queries = 0;
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < Tokens; t++)
            {
                if (ids[b * Tokens + t] != Config.MaskIndex) continue;
                for (int h = 0; h < heads; h++)
                {
                    var q = new ReadOnlySpan<float>(_qkv, ((b * Tokens + t) * 3 * d) + h * headDim, headDim);
                    for (int j = 0; j < Tokens; j++)
                    {
                        var k = new ReadOnlySpan<float>(_qkv, ((b * Tokens + j) * 3 * d) + d + h * headDim, headDim);
                        _scores[j] = scale * TensorPrimitives.Dot(q, k);
                    }
                    sum += Entropy(_scores);
                    queries++;
                }
            }
        return queries == 0 ? double.NaN : sum / queries;
    }

    /// <summary>The entropy of softmax(scores): log Σ e^s − Σ p·s, in double.</summary>
    private static double Entropy(ReadOnlySpan<float> scores)
    {
        float max = TensorPrimitives.Max(scores);
        double total = 0, weighted = 0;
        foreach (float s in scores)
        {
            double e = Math.Exp(s - max);
            total += e;
            weighted += e * (s - max);
        }
        return Math.Log(total) - weighted / total;
    }
}
