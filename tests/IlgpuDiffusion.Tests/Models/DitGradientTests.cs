using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Whole-model backward against central finite differences of the float forward pass, on sampled entries
/// (the largest-gradient entry and two random ones) of every parameter tensor, with all parameters random.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class DitGradientTests
{
    private const float Step = 4e-3f;

    /// <summary>SUBS cross-entropy on the masked rows only (head on selected rows), constant conditioning, no dropout.</summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Subs_loss_on_masked_rows_matches_finite_differences(string backend) =>
        CheckSubsLoss(backend, TinyModels.RandomDit());

    /// <summary>
    /// The same with QK-norm on q and k of every block (its weights random too). Its weight gradients are small against
    /// the float forward's rounding, so the central difference takes a wider step: less rounding error, and a truncation
    /// error still below the tolerance on this model.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Qk_normed_model_matches_finite_differences(string backend) =>
        CheckSubsLoss(backend, TinyModels.RandomDit() with { QkNorm = true }, step: 6e-3f);

    private static void CheckSubsLoss(string backend, DitConfig config, float step = Step)
    {
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device);
        TinyModels.Randomize(model.Parameters, seed: 1);
        var (clean, noisy, masked) = TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 2);
        var ids = TinyModels.Upload(device, noisy);
        var rows = TinyModels.Upload(device, masked);
        var targets = TinyModels.Upload(device, masked.Select(r => clean[r]).ToArray());
        var weights = TinyModels.Upload(device, masked.Select((_, i) => 1f / (0.3f + 0.1f * i)).ToArray());
        var losses = device.AllocateTensor<float>(new Shape(masked.Length));
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true,
            headCapacity: masked.Length);

        double Loss(bool backward)
        {
            var logits = model.Forward(activations, ids, default, rows, masked.Length, DitDropout.Off);
            device.Kernels.SubsCrossEntropy(logits, targets, weights, losses, backward ? logits : null,
                masked.Length, config.PaddedVocab, config.Vocab, config.MaskIndex, 1f);
            if (backward) model.Backward(activations, logits);
            device.Synchronize();
            return losses.ToArray().Sum(v => (double)v);
        }

        CheckEveryTensor(model, Loss, SamplesPerTensor(backend), step);
    }

    /// <summary>
    /// A random linear functional of every row's logits, time conditioning on, dropout on (masks regenerated in backward).
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Time_conditioned_model_with_dropout_matches_finite_differences(string backend)
    {
        var config = TinyModels.RandomDit(timeConditioning: true, dropout: 0.1f);
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device);
        TinyModels.Randomize(model.Parameters, seed: 3);
        var (_, noisy, _) = TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 4);
        var ids = TinyModels.Upload(device, noisy);
        float[] sigma = [0.7f, 2.5f];
        int n = TinyModels.Batch * TinyModels.DitTokens;
        // A functional of the vocabulary's logits: none of the head's padding columns.
        var direction = Numerics.Random(n * config.PaddedVocab, 5)
            .Select((v, i) => i % config.PaddedVocab < config.Vocab ? v : 0f).ToArray();
        var dLogits = TinyModels.Upload(device, direction);
        var dropout = DitDropout.Training(seed: 77, step: 3);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true);

        double Loss(bool backward)
        {
            var logits = model.Forward(activations, ids, sigma, null, 0, dropout);
            if (backward) model.Backward(activations, dLogits);
            device.Synchronize();
            var values = logits.ToArray();
            double sum = 0;
            for (int i = 0; i < values.Length; i++) sum += (double)values[i] * direction[i];
            return sum;
        }

        CheckEveryTensor(model, Loss, SamplesPerTensor(backend));
    }

    /// <summary>The largest-gradient entry plus random ones; the ILGPU emulator launches slowly, so it checks fewer.</summary>
    private static int SamplesPerTensor(string backend) => backend == "ilgpu-cpu" ? 1 : 3;

    private static void CheckEveryTensor(Dit model, Func<bool, double> loss, int samples, float step = Step)
    {
        model.ZeroGradients();
        loss(true);
        ParameterGradientCheck.CheckEveryTensor(model.Parameters, model.Gradients!, loss, samples, seed: 9, step, requireGradient: false);
    }
}
