using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// One batch of the MDLM objective from clean ids to loss, with every buffer allocated once: draw a time per
/// sequence, mask each token with probability (1−ε)t, upload the noisy ids and the masked rows, run the model
/// with its output head on the masked rows only, and take the NELBO. Training and validation both use it.
/// </summary>
internal sealed class DiffusionBatch : IDisposable
{
    private readonly MaskedDiffusion _diffusion;
    private readonly TimeSampler _timeSampler;
    private readonly float[] _sigma;
    private readonly Tensor<int> _noisyIds;
    private readonly int _headRowMultiple;

    /// <summary>
    /// Allocates host and device buffers for <paramref name="batchSize"/> sequences of <paramref name="sequenceLength"/> ids.
    /// </summary>
    /// <param name="config">The model's configuration.</param>
    /// <param name="device">Where the batch's tensors live.</param>
    /// <param name="batchSize">Sequences per batch.</param>
    /// <param name="sequenceLength">Ids per sequence.</param>
    /// <param name="timeSampler">Draws the batch's times.</param>
    /// <param name="headRowMultiple">The multiple the head's rows are padded to (<see cref="CorruptedBatch.PadHeadRows"/>).</param>
    public DiffusionBatch(DitConfig config, Device device, int batchSize, int sequenceLength, TimeSampler timeSampler,
        int headRowMultiple = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(headRowMultiple, 1);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(device);
        if (sequenceLength > config.Length)
            throw new ArgumentException($"Sequences of {sequenceLength} ids exceed the model's length {config.Length}.",
                nameof(sequenceLength));
        _diffusion = new MaskedDiffusion(NoiseSchedule.LogLinear, config.MaskIndex);
        _timeSampler = timeSampler ?? throw new ArgumentNullException(nameof(timeSampler));
        _headRowMultiple = headRowMultiple;
        Corrupted = new CorruptedBatch(batchSize, sequenceLength);
        CleanIds = new int[Corrupted.Elements];
        _sigma = new float[batchSize];
        _noisyIds = device.AllocateTensor<int>(new Shape(batchSize, sequenceLength));
        Loss = new NelboLoss(device, batchSize, sequenceLength, HeadLayout.Of(config));
    }

    /// <summary>Clean ids x⁰ of the batch; fill before <see cref="Corrupt"/>. <c>[batch, L]</c></summary>
    public int[] CleanIds { get; }

    /// <summary>Times, noisy ids and masked rows of the last <see cref="Corrupt"/>.</summary>
    public CorruptedBatch Corrupted { get; }

    /// <summary>The loss of the masked rows.</summary>
    public NelboLoss Loss { get; }

    /// <summary>
    /// Draws times from (<paramref name="timeSeed"/>, stream) and masks from (<paramref name="maskSeed"/>, stream)
    /// for <see cref="CleanIds"/>, pads the head's rows, then uploads the noisy ids, head rows, targets and weights.
    /// </summary>
    public void Corrupt(ulong timeSeed, ulong maskSeed, ulong stream)
    {
        _timeSampler.Sample(timeSeed, stream, Corrupted.Times);
        _diffusion.Corrupt(CleanIds, maskSeed, stream, Corrupted);
        Corrupted.PadHeadRows(_headRowMultiple);
        for (int b = 0; b < _sigma.Length; b++) _sigma[b] = (float)_diffusion.Schedule.TotalNoise(Corrupted.Times[b]);
        _noisyIds.CopyFrom(Corrupted.NoisyIds);
        Loss.Upload(Corrupted);
    }

    /// <summary>
    /// Runs <paramref name="model"/> on the noisy ids (σ(t) as its time input) and returns the raw logits of the head
    /// rows: the masked rows, then any padding. <c>[head rows, V]</c>
    /// </summary>
    public Tensor<float> Forward(Dit model, DitActivations activations, DitDropout dropout)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Forward(activations, _noisyIds, _sigma, Loss.MaskedRows, Loss.Rows, dropout);
    }

    /// <summary>
    /// Eval pass of <paramref name="model"/>'s trunk on the noisy ids (σ(t) as its time input); the head then serves the
    /// masked rows of <see cref="NelboLoss.MaskedRows"/> in chunks.
    /// </summary>
    public void ForwardTrunk(Dit model, DitActivations activations)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.ForwardTrunk(activations, _noisyIds, _sigma);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _noisyIds.Buffer.Dispose();
        Loss.Dispose();
    }
}
