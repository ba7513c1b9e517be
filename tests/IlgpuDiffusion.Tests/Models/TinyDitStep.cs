using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// One training-like pass of <see cref="TinyModels.RandomDit"/> on a device: forward with dropout and time conditioning
/// on the masked rows, SUBS loss, backward; the same inputs and weights on every device, so backends compare.
/// </summary>
internal static class TinyDitStep
{
    /// <summary>The head's logits [masked rows, V], the summed loss and every parameter gradient, in the device's results.</summary>
    public sealed record Result(float[] Logits, float Loss, float[] Gradients);

    public static Result Run(Device device, DitConfig config)
    {
        var (clean, noisy, masked) = TinyModels.Corrupted(config, TinyModels.Batch, TinyModels.DitTokens, seed: 25);
        using var model = new Dit(config, device);
        TinyModels.Randomize(model.Parameters, seed: 26);
        using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.DitTokens, training: true,
            headCapacity: masked.Length);
        var logits = model.Forward(activations, TinyModels.Upload(device, noisy), [0.3f, 1.7f], TinyModels.Upload(device, masked),
            masked.Length, DitDropout.Training(seed: 3, step: 4));
        var values = logits.ToArray();
        using var losses = device.AllocateTensor<float>(new Shape(masked.Length));
        device.Kernels.SubsCrossEntropy(logits, TinyModels.Upload(device, masked.Select(r => clean[r]).ToArray()),
            TinyModels.Upload(device, Enumerable.Repeat(1f, masked.Length).ToArray()), losses, logits, masked.Length,
            config.PaddedVocab, config.Vocab, config.MaskIndex, 1f);
        model.ZeroGradients();
        model.Backward(activations, logits);
        return new Result(values, losses.ToArray().Sum(), model.Gradients!.All.ToArray());
    }
}
