using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// The output head runs <see cref="DitConfig.PaddedVocab"/> columns wide: the padding stays zero through a training step,
/// the loss skips it, and the named tensors that checkpoints store keep the vocabulary's shape.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class DitHeadPaddingTests
{
    [Theory]
    [InlineData(50258, 50304)]
    [InlineData(64, 64)]
    [InlineData(65, 128)]
    [InlineData(11, 64)]
    public void The_head_width_is_the_vocabulary_rounded_up_to_64(int vocab, int padded) =>
        Assert.Equal(padded, (DitConfig.Tiny with { Vocab = vocab }).PaddedVocab);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void The_padding_stays_zero_through_a_training_step_and_out_of_the_named_tensors(string backend)
    {
        var config = TinyModels.RandomDit();
        int vocab = config.Vocab, width = config.PaddedVocab, d = config.Hidden;
        Assert.True(width > vocab, "the test needs a padded head");
        var device = TestBackends.Get(backend);
        using var model = new Dit(config, device);
        using var firstMoment = DitParameters.Allocate(config, device);
        using var secondMoment = DitParameters.Allocate(config, device);
        TinyModels.Randomize(model.Parameters, seed: 50);
        var (clean, noisy, masked) = TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 51);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true,
            headCapacity: masked.Length);

        model.ZeroGradients();
        var logits = model.Forward(activations, TinyModels.Upload(device, noisy), default, TinyModels.Upload(device, masked),
            masked.Length, DitDropout.Off);
        Assert.Equal(new Shape(masked.Length, width), logits.Shape);
        Assert.All(LossConformanceTests.Paddings(logits.ToArray(), width, vocab), v => Assert.Equal(0f, v));
        var losses = device.AllocateTensor<float>(new Shape(masked.Length));
        device.Kernels.SubsCrossEntropy(logits, TinyModels.Upload(device, masked.Select(r => clean[r]).ToArray()),
            TinyModels.Upload(device, Enumerable.Repeat(1f, masked.Length).ToArray()), losses, logits, masked.Length, width, vocab,
            config.MaskIndex, 1f);
        model.Backward(activations, logits);
        device.Kernels.AdamWStep(model.Parameters.All, model.Gradients!.All, firstMoment.All, secondMoment.All,
            (int)model.Parameters.All.Length, new AdamWParameters(1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f), 1, 1f);

        var gradients = model.Gradients;
        Assert.Contains(gradients.OutputWeight.ToArray(), v => v != 0f); // the vocabulary's rows did learn
        foreach (var set in new[] { model.Parameters, gradients, firstMoment, secondMoment })
        {
            Assert.All(set.PaddedOutputWeight.ToArray()[(vocab * d)..], v => Assert.Equal(0f, v));
            Assert.All(set.PaddedOutputBias.ToArray()[vocab..], v => Assert.Equal(0f, v));
        }
        Assert.Contains(model.Parameters.Entries, e => e.Name == "output_layer.linear.weight" && e.Shape == new Shape(vocab, d));
        Assert.Contains(model.Parameters.Entries, e => e.Name == "output_layer.linear.bias" && e.Shape == new Shape(vocab));
        Assert.Equal(new Shape(vocab, d), model.Parameters.OutputWeight.Shape);
    }
}
