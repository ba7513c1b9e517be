using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Autoregressive;

/// <summary>
/// One batch of the next-token objective with every buffer allocated once: the ids [batch, length] on the host and
/// device, the targets (row b·L + t predicts id t + 1; each sequence's last row has weight 0), and the fused
/// cross-entropy over the model's logits. Training and validation both use it.
/// </summary>
internal sealed class NextTokenBatch : IDisposable
{
    private readonly Tensor<int> _targets; // [batch·length]
    private readonly Tensor<float> _weights, _losses; // [batch·length]
    private readonly int[] _hostTargets;
    private readonly float[] _hostLosses;

    /// <summary>Allocates host and device buffers for <paramref name="batchSize"/> sequences of <paramref name="length"/> ids.</summary>
    public NextTokenBatch(Device device, int batchSize, int length)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 2);
        BatchSize = batchSize;
        Length = length;
        int n = TokenRows.Of(batchSize, length);
        Ids = new int[n];
        _hostTargets = new int[n];
        _hostLosses = new float[n];
        DeviceIds = device.AllocateTensor<int>(new Shape(batchSize, length));
        _targets = device.AllocateTensor<int>(new Shape(n));
        _losses = device.AllocateTensor<float>(new Shape(n));
        _weights = device.Upload<float>(Enumerable.Range(0, n).Select(r => r % length == length - 1 ? 0f : 1f).ToArray(), new Shape(n));
    }

    /// <summary>Sequences per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Tokens per sequence.</summary>
    public int Length { get; }

    /// <summary>Next-token predictions per batch: B·(L − 1).</summary>
    public int Predictions => BatchSize * (Length - 1);

    /// <summary>The batch's ids; fill, then <see cref="Upload"/>. <c>[batch, length]</c></summary>
    public int[] Ids { get; }

    /// <summary>The uploaded ids, the model's input. <c>[batch, length]</c></summary>
    public Tensor<int> DeviceIds { get; }

    /// <summary>Uploads <see cref="Ids"/> and their shifted targets.</summary>
    public void Upload()
    {
        for (int r = 0; r < Ids.Length; r++) _hostTargets[r] = r % Length == Length - 1 ? 0 : Ids[r + 1];
        DeviceIds.CopyFrom(Ids);
        _targets.CopyFrom(_hostTargets);
    }

    /// <summary>
    /// Σ over the batch's predictions of −log p(target) from <paramref name="logits"/> [batch·length, PaddedVocab] of
    /// <paramref name="config"/>'s head, summed in double on the host; with <paramref name="dLogits"/> (it may alias the
    /// logits) also writes gradScale·∂/∂logits.
    /// </summary>
    public double Evaluate(Tensor<float> logits, Tensor<float>? dLogits, GptConfig config, float gradScale)
    {
        int n = Ids.Length;
        logits.Device.Kernels.CrossEntropy(logits, _targets, _weights, _losses, dLogits, n, config.PaddedVocab, config.Vocab, gradScale);
        _losses.CopyTo(_hostLosses);
        double sum = 0;
        foreach (float loss in _hostLosses) sum += loss;
        return sum;
    }

    /// <summary>
    /// Queues the rows' −log p(target) into <paramref name="losses"/> (and <paramref name="dLogits"/> as
    /// <see cref="Evaluate"/> writes it) without waiting for them: their sum is what <see cref="Evaluate"/> returns.
    /// </summary>
    /// <param name="losses">[batch·length]</param>
    public void Queue(Tensor<float> logits, Tensor<float>? dLogits, GptConfig config, float gradScale, Tensor<float> losses) =>
        logits.Device.Kernels.CrossEntropy(logits, _targets, _weights, losses, dLogits, Ids.Length, config.PaddedVocab, config.Vocab,
            gradScale);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var buffer in new IDisposable[] { DeviceIds.Buffer, _targets.Buffer, _weights.Buffer, _losses.Buffer }) buffer.Dispose();
    }
}
