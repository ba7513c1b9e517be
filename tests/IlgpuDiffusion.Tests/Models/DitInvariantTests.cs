using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>The docs/algorithms.md §8 invariants of a freshly initialized model and of the constant conditioning.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class DitInvariantTests
{
    [Fact]
    public void Fresh_model_gives_zero_logits_and_uniform_subs_over_the_real_vocabulary()
    {
        var config = TinyModels.LearningDit(Gpt2Tokenizer.ModelVocabularySize, length: 8, dropout: 0.1f);
        var device = TinyModels.Cpu;
        using var model = new Dit(config, device, withGradients: false);
        model.Initialize(seed: 5);
        var (_, noisy, masked) = TinyModels.Corrupted(config, 2, 8, seed: 6);
        using var activations = model.CreateActivations(2, 8, training: false);
        var logits = model.Forward(activations, TinyModels.Upload(device, noisy), default, null, 0, DitDropout.Off);
        Assert.All(logits.ToArray(), v => Assert.Equal(0f, v));

        int width = config.PaddedVocab;
        Assert.Equal(50304, width);
        var logProbs = device.AllocateTensor<float>(new Shape(16, width));
        device.Kernels.SubsLogSoftmax(logits, logProbs, 16, width, config.Vocab, config.MaskIndex);
        var values = logProbs.ToArray();
        float uniform = (float)Math.Log(1.0 / 50257);
        foreach (int row in masked)
        {
            for (int v = 0; v < config.MaskIndex; v++)
                Assert.Equal(uniform, values[row * width + v]);
            Assert.True(values[row * width + config.MaskIndex] < -1e5f);
            for (int v = config.Vocab; v < width; v++)
                Assert.Equal(float.NegativeInfinity, values[row * width + v]); // the head's padding: probability 0
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Every_block_is_the_identity_at_initialization(string backend)
    {
        var config = TinyModels.RandomDit(dropout: 0.1f);
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device);
        model.Initialize(seed: 7);
        var (_, noisy, _) = TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 8);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true);
        var logits = model.Forward(activations, TinyModels.Upload(device, noisy), default, null, 0, DitDropout.Training(1, 2));
        var embedded = activations.Embedded.ToArray();
        Assert.Contains(embedded, v => v != 0f);
        foreach (var layer in activations.Layers)
        {
            Assert.Equal(embedded, layer.Middle.ToArray());
            Assert.Equal(embedded, layer.Output.ToArray());
        }
        Assert.All(logits.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Initialization_follows_the_reference_ranges_and_is_reproducible()
    {
        var config = TinyModels.RandomDit();
        var device = TinyModels.Cpu;
        using var a = new Dit(config, device, withGradients: false);
        using var b = new Dit(config, device, withGradients: false);
        a.Initialize(seed: 11);
        b.Initialize(seed: 11);
        Assert.Equal(a.Parameters.All.ToArray(), b.Parameters.All.ToArray());
        b.Initialize(seed: 12);
        Assert.NotEqual(a.Parameters.All.ToArray(), b.Parameters.All.ToArray());

        foreach (var (name, shape) in a.Parameters.Entries)
        {
            var values = a.Parameters[name].ToArray();
            if (name.Contains("adaLN") || name.StartsWith("output_layer.linear"))
                Assert.All(values, v => Assert.Equal(0f, v));
            else if (name.Contains("norm"))
                Assert.All(values, v => Assert.Equal(1f, v));
            else
            {
                int fanIn = name == "vocab_embed.embedding" ? config.Hidden
                    : a.Parameters.Entries.First(e => e.Name == name.Replace(".bias", ".weight")).Shape[1];
                float bound = 1f / MathF.Sqrt(fanIn);
                Assert.All(values, v => Assert.InRange(v, -bound, bound));
                if (values.Length >= 64)
                    Assert.True(values.Max() > 0.8f * bound && values.Min() < -0.8f * bound, $"{name} does not fill ±{bound}");
            }
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Constant_conditioning_computed_once_equals_the_per_sequence_computation(string backend)
    {
        var device = TestBackends.Get(backend);
        using var once = new Dit(TinyModels.RandomDit(), device, withGradients: false);
        using var perSequence = new Dit(TinyModels.RandomDit(timeConditioning: true), device, withGradients: false);
        TinyModels.Randomize(once.Parameters, seed: 13);
        TinyModels.Randomize(perSequence.Parameters, seed: 13);
        var ids = TinyModels.Upload(device, TinyModels.Corrupted(once.Config, TinyModels.Batch, TinyModels.DitTokens, seed: 14).Noisy);
        using var onceActivations = once.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        using var perSequenceActivations = perSequence.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: false);
        var expected = perSequence.Forward(perSequenceActivations, ids, new float[TinyModels.Batch], null, 0, DitDropout.Off).ToArray();
        var actual = once.Forward(onceActivations, ids, default, null, 0, DitDropout.Off).ToArray();

        Assert.Equal(1, onceActivations.ConditionRows);
        Assert.Equal(TinyModels.Batch, perSequenceActivations.ConditionRows);
        Numerics.AssertClose(Numerics.D(expected), actual, 1e-6, "logits");
        var c = ReferenceCondition(once.Parameters);
        var perRow = perSequenceActivations.Condition.ToArray();
        Numerics.AssertClose(c, onceActivations.Condition.ToArray(), 1e-5, "c");
        Numerics.AssertClose(c.Concat(c).ToArray(), perRow, 1e-5, "c per sequence");
    }

    [Fact]
    public void Timestep_embedding_puts_cosines_first()
    {
        var row = new float[DitConfig.FrequencyEmbeddingSize];
        TimestepEmbeddings.Write(row, 0f);
        Assert.Equal(Enumerable.Repeat(1f, 128).Concat(Enumerable.Repeat(0f, 128)), row);
        TimestepEmbeddings.Write(row, 2f);
        for (int i = 0; i < 128; i++)
        {
            double frequency = Math.Exp(-Math.Log(10000) * i / 128);
            Assert.Equal(Math.Cos(2 * frequency), row[i], 1e-6);
            Assert.Equal(Math.Sin(2 * frequency), row[128 + i], 1e-6);
        }
    }

    /// <summary>c = SiLU(W2·SiLU(W1·([1]×128 ++ [0]×128) + b1) + b2) in double.</summary>
    private static double[] ReferenceCondition(DitParameters p)
    {
        int c = p.Config.CondDim, f = DitConfig.FrequencyEmbeddingSize;
        var w1 = p.SigmaWeight0.ToArray();
        var b1 = p.SigmaBias0.ToArray();
        var w2 = p.SigmaWeight2.ToArray();
        var b2 = p.SigmaBias2.ToArray();
        static double Silu(double x) => x / (1 + Math.Exp(-x));
        var hidden = new double[c];
        for (int o = 0; o < c; o++)
        {
            double sum = b1[o];
            for (int i = 0; i < f / 2; i++) sum += w1[o * f + i]; // cos(0) = 1, sin(0) = 0
            hidden[o] = Silu(sum);
        }
        var result = new double[c];
        for (int o = 0; o < c; o++)
        {
            double sum = b2[o];
            for (int i = 0; i < c; i++) sum += w2[o * c + i] * hidden[i];
            result[o] = Silu(sum);
        }
        return result;
    }
}
