using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// The model learns to read its context, which one memorized batch cannot show: every step draws
/// fresh sequences in which each token follows from its left neighbour by a fixed bijection, so a
/// masked token is predictable only by attending to a visible neighbour (a model that ignores its
/// context stays at log(symbols) nats).
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class DitContextTaskTests
{
    private const int Batch = 8, Tokens = 16, Symbols = 16, Steps = 1000;

    [Fact]
    public void Tiny_model_learns_to_predict_a_masked_token_from_its_visible_neighbour()
    {
        var config = TinyModels.LearningDit(vocab: Symbols + 1, length: Tokens, dropout: 0f);
        using var trained = new AdamTrainedDit(config, seed: 41);
        var (device, model) = (trained.Device, trained.Model);
        int rowCount = Batch * Tokens;
        var ids = device.AllocateTensor<int>(new Shape(rowCount));
        var rows = TinyModels.Upload(device, Enumerable.Range(0, rowCount).ToArray());
        var targets = device.AllocateTensor<int>(new Shape(rowCount));
        var weights = device.AllocateTensor<float>(new Shape(rowCount));
        var losses = device.AllocateTensor<float>(new Shape(rowCount));
        using var activations = model.CreateActivations(Batch, Tokens, training: true, headCapacity: rowCount);
        var hyper = new AdamWParameters(LearningRate: 1e-3f);
        var random = new Random(42);
        var lossValues = new float[rowCount];
        double neighbourVisibleLoss = 0;
        int neighbourVisibleRows = 0;

        for (int step = 1; step <= Steps; step++)
        {
            var (clean, noisy, mask) = ChainBatch(random);
            ids.CopyFrom(noisy);
            targets.CopyFrom(clean);
            weights.CopyFrom(mask.Select(m => m ? 1f : 0f).ToArray());
            model.ZeroGradients();
            var logits = model.Forward(activations, ids, default, rows, rowCount, DitDropout.Off);
            device.Kernels.SubsCrossEntropy(logits, targets, weights, losses, logits, rowCount, config.PaddedVocab, config.Vocab,
                config.MaskIndex, 1f / Math.Max(1, mask.Count(m => m)));
            model.Backward(activations, logits);
            trained.Step(hyper, step);
            if (step <= Steps - 50) continue;
            losses.CopyTo(lossValues);
            for (int i = 0; i < rowCount; i++)
                if (i % Tokens > 0 && mask[i] && !mask[i - 1]) { neighbourVisibleLoss += lossValues[i]; neighbourVisibleRows++; }
        }
        double mean = neighbourVisibleLoss / neighbourVisibleRows;
        Assert.True(mean < 0.25 * Math.Log(Symbols),
            $"Loss on masked tokens whose left neighbour is visible is {mean:F3} nats over the last 50 steps; " +
            $"guessing gives {Math.Log(Symbols):F3}.");
    }

    /// <summary>Sequences x₀, f(x₀), f(f(x₀)), … with f(x) = (5x + 3) mod Symbols, each token masked with probability 1/2.</summary>
    private static (int[] Clean, int[] Noisy, bool[] Mask) ChainBatch(Random random)
    {
        var clean = new int[Batch * Tokens];
        var noisy = new int[clean.Length];
        var mask = new bool[clean.Length];
        for (int b = 0; b < Batch; b++)
        {
            clean[b * Tokens] = random.Next(Symbols);
            for (int j = 1; j < Tokens; j++)
                clean[b * Tokens + j] = (5 * clean[b * Tokens + j - 1] + 3) % Symbols;
        }
        for (int i = 0; i < clean.Length; i++)
        {
            mask[i] = random.NextDouble() < 0.5;
            noisy[i] = mask[i] ? Symbols : clean[i];
        }
        return (clean, noisy, mask);
    }
}
