using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// How much a diffusion model reads its visible context: the mean cross-entropy (nats) of the masked tokens of
/// validation sequences in which every token is masked with one fixed probability t, without the NELBO's 1/t weight.
/// A model that ignores its context scores its unigram entropy at every t; one that reads it scores lower at small t,
/// where most of the context is visible. Masks come from (seed, batch), so repeated passes give the same number.
/// </summary>
public static class MaskedCrossEntropy
{
    /// <summary>
    /// Mean cross-entropy per masked token at mask probability <paramref name="time"/>, and the masked tokens it averages.
    /// </summary>
    /// <param name="model">The model, weights loaded (normally the EMA); its own parameters are used, eval mode.</param>
    /// <param name="data">Validation sequences no longer than the model's length.</param>
    /// <param name="time">t in (0, 1]: each token is masked with probability (1 − 1e-3)·t (MDLM's log-linear schedule).</param>
    /// <param name="maxBatches">Most batches (0: the whole split; a last partial batch is left out).</param>
    /// <exception cref="ArgumentException">A time outside (0, 1], or data that does not fill one batch.</exception>
    public static (double CrossEntropy, long MaskedTokens) AtTime(Dit model, TokenShardSet data, double time, int batchSize, ulong seed,
        int maxBatches = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (!(time > 0 && time <= 1)) throw new ArgumentException($"The mask time must be in (0, 1]; got {time}.", nameof(time));
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        long batches = data.SequenceCount / batchSize;
        if (maxBatches > 0) batches = Math.Min(batches, maxBatches);
        if (batches == 0)
            throw new ArgumentException($"The data holds {data.SequenceCount} sequences, fewer than one batch of {batchSize}.",
                nameof(data));

        int length = data.SequenceLength;
        var diffusion = new MaskedDiffusion(NoiseSchedule.LogLinear, model.Config.MaskIndex);
        var batch = new CorruptedBatch(batchSize, length);
        var clean = new int[batch.Elements];
        using var loss = new NelboLoss(model.Device, batchSize, length, HeadLayout.Of(model.Config));
        using var ids = model.Device.AllocateTensor<int>(new Shape(batchSize, length));
        float[] sigma = model.Config.TimeConditioning
            ? Enumerable.Repeat((float)diffusion.Schedule.TotalNoise(time), batchSize).ToArray()
            : [];
        using var activations = model.CreateActivations(batchSize, length, training: false);
        double sum = 0;
        long masked = 0;
        for (long b = 0; b < batches; b++)
        {
            for (int i = 0; i < batchSize; i++) data.CopySequence(b * batchSize + i, clean.AsSpan(i * length, length));
            Array.Fill(batch.Times, time);
            diffusion.Corrupt(clean, seed, (ulong)b, batch);
            Array.Fill(batch.Weights, 1f, 0, batch.MaskedCount);
            if (batch.MaskedCount == 0) continue;
            ids.CopyFrom(batch.NoisyIds);
            loss.Upload(batch);
            Tensor<float> logits = model.Forward(activations, ids, sigma, loss.MaskedRows, batch.MaskedCount, DitDropout.Off);
            sum += loss.EvaluateSum(logits, null, 1f);
            masked += batch.MaskedCount;
        }
        return (masked == 0 ? double.NaN : sum / masked, masked);
    }
}
