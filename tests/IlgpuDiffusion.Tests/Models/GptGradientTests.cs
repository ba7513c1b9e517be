using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Whole-model backward against central finite differences (in double, of the float forward) on sampled entries of
/// every parameter tensor: the largest-gradient entry and random ones, with every parameter random. The ILGPU
/// emulator launches too slowly for hundreds of passes: its gradients are compared with the CPU backend's instead.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptGradientTests
{
    private const float Step = 4e-3f;

    public static IEnumerable<object[]> Variants =>
        from row in TestBackends.Fast
        from variant in new[] { (GptPositions.Learned, true, 0.1f), (GptPositions.Rotary, false, 0f) }
        select new[] { row[0], variant.Item1, variant.Item2, variant.Item3 };

    /// <summary>Next-token cross-entropy on every row but each sequence's last, dropout masks regenerated in backward.</summary>
    [SkippableTheory]
    [MemberData(nameof(Variants))]
    public void Next_token_loss_matches_finite_differences(string backend, GptPositions positions, bool tied, float dropout)
    {
        var config = TinyModels.RandomGpt(positions, tied, dropout);
        var device = TestBackends.Get(backend);
        using var model = new Gpt(config, device);
        TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 11));
        int n = TinyModels.Batch * TinyModels.GptTokens;
        var idValues = TinyModels.Ids(config, n, seed: 12);
        var ids = TinyModels.Upload(device, idValues);
        var targets = TinyModels.Upload(device,
            idValues.Select((_, r) => r % TinyModels.GptTokens == TinyModels.GptTokens - 1 ? 0 : idValues[r + 1]).ToArray());
        var weights = TinyModels.Upload(device,
            idValues.Select((_, r) => r % TinyModels.GptTokens == TinyModels.GptTokens - 1 ? 0f : 1f).ToArray());
        var losses = device.AllocateTensor<float>(new Shape(n));
        var mode = dropout > 0 ? GptDropout.Training(seed: 5, step: 9) : GptDropout.Off;
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.GptTokens, training: true);

        double Loss(bool backward)
        {
            var logits = model.Forward(activations, ids, mode);
            device.Kernels.CrossEntropy(logits, targets, weights, losses, backward ? logits : null, n, config.PaddedVocab, config.Vocab,
                1f);
            if (backward) model.Backward(activations, logits);
            device.Synchronize();
            return losses.ToArray().Sum(v => (double)v);
        }

        model.ZeroGradients();
        Loss(true);
        ParameterGradientCheck.CheckEveryTensor(model.Parameters, model.Gradients!, Loss, samples: 3, seed: 13, Step,
            requireGradient: true);
    }

    [Theory]
    [InlineData(GptPositions.Learned, true)]
    [InlineData(GptPositions.Rotary, false)]
    public void Cpu_and_ilgpu_cpu_agree_on_logits_and_gradients(GptPositions positions, bool tied)
    {
        var config = TinyModels.RandomGpt(positions, tied, dropout: 0.1f);
        int n = TinyModels.Batch * TinyModels.GptTokens;
        var ids = TinyModels.Ids(config, n, seed: 14);
        var direction = TinyModels.Padded(Numerics.Random(n * config.Vocab, 15), config);
        var results = new[] { "cpu", "ilgpu-cpu" }.Select(backend =>
        {
            var device = TestBackends.Get(backend);
            using var model = new Gpt(config, device);
            TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 16));
            using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.GptTokens, training: true);
            var logits = TinyModels.Unpadded(
                model.Forward(activations, TinyModels.Upload(device, ids), GptDropout.Training(seed: 3, step: 4)).ToArray(), config);
            model.ZeroGradients();
            model.Backward(activations, TinyModels.Upload(device, direction));
            return (Logits: logits, Gradients: model.Gradients!.All.ToArray());
        }).ToArray();
        Numerics.AssertClose(Numerics.D(results[0].Logits), results[1].Logits, 1e-4, "logits");
        Numerics.AssertClose(Numerics.D(results[0].Gradients), results[1].Gradients, 1e-3, "gradients");
    }
}
