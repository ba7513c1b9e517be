using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>A small model memorizes one corrupted batch with a plain AdamW loop: forward, SUBS loss, backward, step.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class DitOverfitTests
{
    [Fact]
    public void Tiny_model_overfits_one_batch()
    {
        const int batch = 4, tokens = 16, steps = 150;
        var config = TinyModels.LearningDit(vocab: 33, length: tokens, dropout: 0f);
        using var trained = new AdamTrainedDit(config, seed: 31);
        var (device, model) = (trained.Device, trained.Model);
        var (clean, noisy, masked) = TinyModels.Corrupted(config, batch, tokens, seed: 32);
        var ids = TinyModels.Upload(device, noisy);
        var rows = TinyModels.Upload(device, masked);
        var targets = TinyModels.Upload(device, masked.Select(r => clean[r]).ToArray());
        var weights = TinyModels.Upload(device, Enumerable.Repeat(1f, masked.Length).ToArray());
        var losses = device.AllocateTensor<float>(new Shape(masked.Length));
        using var activations = model.CreateActivations(batch, tokens, training: true, headCapacity: masked.Length);
        var hyper = new AdamWParameters(LearningRate: 1e-2f);

        double first = 0, last = 0;
        for (int step = 1; step <= steps; step++)
        {
            model.ZeroGradients();
            var logits = model.Forward(activations, ids, default, rows, masked.Length, DitDropout.Off);
            device.Kernels.SubsCrossEntropy(logits, targets, weights, losses, logits, masked.Length, config.PaddedVocab, config.Vocab,
                config.MaskIndex, 1f / masked.Length);
            model.Backward(activations, logits);
            trained.Step(hyper, step);
            last = losses.ToArray().Average(v => (double)v);
            if (step == 1) first = last;
        }
        Assert.Equal(Math.Log(config.Vocab - 1), first, 1e-4); // a fresh model predicts uniformly
        Assert.True(last < 0.5, $"Mean loss per masked token after {steps} steps is {last:F3} nats (started at {first:F3}).");
    }
}
