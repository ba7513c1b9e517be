using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

/// <summary>The context check: masked cross-entropy at a fixed mask probability.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class MaskedCrossEntropyTests
{
    [Fact]
    public void A_fresh_model_costs_ln_of_the_unmasked_vocabulary_at_every_time_and_masks_about_t_of_the_tokens()
    {
        using var data = new TinyTraining(validationSequences: 40);
        using var model = TinyTraining.NewModel();
        foreach (double t in new[] { 0.1, 0.5, 0.9 })
        {
            var (crossEntropy, masked) = MaskedCrossEntropy.AtTime(model, data.Validation, t, batchSize: 8, seed: 3);
            Assert.Equal(Math.Log(TinyModels.Vocab - 1), crossEntropy, 1e-5); // logits ≡ 0, MASK excluded
            double tokens = 40 * TinyModels.Length, p = (1 - 1e-3) * t;
            Assert.InRange(masked, tokens * p - 5 * Math.Sqrt(tokens * p * (1 - p)), tokens * p + 5 * Math.Sqrt(tokens * p * (1 - p)));
            Assert.Equal((crossEntropy, masked), MaskedCrossEntropy.AtTime(model, data.Validation, t, batchSize: 8, seed: 3));
        }
    }

    [Fact]
    public void A_trained_model_reads_its_context_where_the_data_has_some()
    {
        // Every sequence repeats one token: a visible token gives away the masked ones.
        using var data = new TinyTraining(validationSequences: 40);
        using var model = TinyTraining.NewModel();
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config);
        trainer.Run(300, new MdlmTrainingRunOptions { });
        double mostlyVisible = MaskedCrossEntropy.AtTime(model, data.Validation, 0.1, batchSize: 8, seed: 3).CrossEntropy;
        double mostlyMasked = MaskedCrossEntropy.AtTime(model, data.Validation, 0.9, batchSize: 8, seed: 3).CrossEntropy;
        Assert.True(mostlyVisible < 0.5 * mostlyMasked, $"CE at t = 0.1 is {mostlyVisible:F3} nats, at t = 0.9 {mostlyMasked:F3}.");
    }

    [Fact]
    public void Bad_arguments_are_errors()
    {
        using var data = new TinyTraining(validationSequences: 4);
        using var model = TinyTraining.NewModel();
        Assert.Throws<ArgumentException>(() => MaskedCrossEntropy.AtTime(model, data.Validation, 0, batchSize: 2, seed: 1));
        Assert.Throws<ArgumentException>(() => MaskedCrossEntropy.AtTime(model, data.Validation, 1.5, batchSize: 2, seed: 1));
        Assert.Contains("fewer than one batch", Assert.Throws<ArgumentException>(() =>
            MaskedCrossEntropy.AtTime(model, data.Validation, 0.5, batchSize: 8, seed: 1)).Message);
    }
}
