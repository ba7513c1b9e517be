using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>The attention entropy of masked queries against explicit softmax probabilities, and its limits.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class MaskedAttentionEntropyTests
{
    private const int Batch = TinyModels.Batch, Tokens = TinyModels.Length;

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 1)]
    public void Measures_the_mean_entropy_of_masked_queries(bool qkNorm, int layer)
    {
        var config = TinyModels.SamplerDit() with { QkNorm = qkNorm };
        using var model = new Dit(config, TestBackends.Get("cpu"));
        TinyModels.Randomize(model.Parameters, seed: 3);
        int[] ids = MaskedIds(config, seed: 4);
        using var activations = model.CreateActivations(Batch, Tokens, training: true);
        model.Forward(activations, TinyModels.Upload(model.Device, ids));

        double measured = new MaskedAttentionEntropy(config, Batch, Tokens).Measure(activations, ids, layer);

        Assert.Equal(ExplicitEntropy(activations.Layers[layer].Qkv.ToArray(), ids, config), measured, 1e-5);
        Assert.InRange(measured, 0.05, Math.Log(Tokens) - 0.01); // random weights: neither collapsed nor uniform
    }

    [Fact]
    public void Zero_query_weights_attend_uniformly()
    {
        var config = TinyModels.SamplerDit();
        using var model = new Dit(config, TestBackends.Get("cpu"));
        TinyModels.Randomize(model.Parameters, seed: 3);
        var qkv = model.Parameters.Blocks[0].AttnQkv;
        qkv.CopyFrom(new float[qkv.Length]);
        int[] ids = MaskedIds(config, seed: 5);
        using var activations = model.CreateActivations(Batch, Tokens, training: true);
        model.Forward(activations, TinyModels.Upload(model.Device, ids));

        Assert.Equal(Math.Log(Tokens), new MaskedAttentionEntropy(config, Batch, Tokens).Measure(activations, ids), 1e-6);
    }

    [Fact]
    public void Without_masked_positions_it_is_nan_and_bad_inputs_are_refused()
    {
        var config = TinyModels.SamplerDit();
        using var model = new Dit(config, TestBackends.Get("cpu"));
        int[] clean = new int[Batch * Tokens];
        using var training = model.CreateActivations(Batch, Tokens, training: true);
        using var inference = model.CreateActivations(Batch, Tokens, training: false);
        model.Forward(training, TinyModels.Upload(model.Device, clean));
        var probe = new MaskedAttentionEntropy(config, Batch, Tokens);

        Assert.True(double.IsNaN(probe.Measure(training, clean)));
        Assert.Contains("training arena", Assert.Throws<ArgumentException>(() => probe.Measure(inference, clean)).Message);
        Assert.Throws<ArgumentException>(() => probe.Measure(training, clean.AsSpan(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => probe.Measure(training, clean, layer: config.Layers));
    }

    /// <summary>Random data tokens with about half of the positions MASK.</summary>
    private static int[] MaskedIds(DitConfig config, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, Batch * Tokens)
            .Select(_ => random.NextDouble() < 0.5 ? config.MaskIndex : random.Next(config.MaskIndex)).ToArray();
    }

    /// <summary>−Σ p log p over explicit softmax probabilities in double, averaged over masked queries and heads.</summary>
    private static double ExplicitEntropy(float[] qkv, int[] ids, DitConfig config)
    {
        int d = config.Hidden, headDim = config.HeadDim;
        double sum = 0;
        int count = 0;
        for (int row = 0; row < ids.Length; row++)
        {
            if (ids[row] != config.MaskIndex) continue;
            int sequence = row / Tokens;
            for (int h = 0; h < config.Heads; h++)
            {
                var scores = new double[Tokens];
                for (int j = 0; j < Tokens; j++)
                    for (int c = 0; c < headDim; c++)
                        scores[j] += (double)qkv[row * 3 * d + h * headDim + c]
                            * qkv[(sequence * Tokens + j) * 3 * d + d + h * headDim + c] / Math.Sqrt(headDim);
                double[] p = scores.Select(s => Math.Exp(s)).ToArray();
                double total = p.Sum();
                sum -= p.Sum(v => v / total * Math.Log(v / total));
                count++;
            }
        }
        return sum / count;
    }
}
