using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// Validation perplexity as MDLM reports it (spec §2.8): the NELBO of every validation sequence at one random
/// time with one random mask, summed in double over the split and divided by its token count; PPL = exp(mean),
/// an upper bound. Times and masks come from a fixed seed and the batch number, so every pass over the same data
/// and weights gives the same number. Runs an evaluation copy of the model (no dropout) loaded with the given
/// weights, normally the EMA.
/// </summary>
public sealed class ValidationPerplexity : IDisposable
{
    private readonly TokenShardSet data;
    private readonly Dit model;
    private readonly ulong timeSeed, maskSeed;
    private readonly long sequences;
    private readonly Pass full;
    private readonly Pass? remainder;

    /// <summary>Prepares an evaluation model and buffers for <paramref name="data"/> in batches of <paramref name="batchSize"/>.</summary>
    /// <param name="maxBatches">Most batches per pass (0: the whole split, the last batch possibly smaller).</param>
    /// <exception cref="ArgumentException">The data holds no sequence, or longer ones than the model takes.</exception>
    public ValidationPerplexity(DitConfig config, Device device, TokenShardSet data, int batchSize, ulong seed, int maxBatches = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatches);
        if (data.SequenceCount == 0) throw new ArgumentException("The validation shards hold no sequence.", nameof(data));
        this.data = data;
        sequences = maxBatches > 0 ? Math.Min(data.SequenceCount, (long)maxBatches * batchSize) : data.SequenceCount;
        timeSeed = TrainingSeeds.ValidationTimes(seed);
        maskSeed = TrainingSeeds.ValidationMasks(seed);
        model = new Dit(config, device, withGradients: false);
        int fullBatch = (int)Math.Min(batchSize, sequences);
        full = new Pass(model, fullBatch, data.SequenceLength);
        int rest = (int)(sequences % fullBatch);
        if (rest > 0) remainder = new Pass(model, rest, data.SequenceLength);
    }

    /// <summary>Sequences evaluated per pass.</summary>
    public long Sequences => sequences;

    /// <summary>Evaluates <paramref name="weights"/> (laid out as the model's parameter arena, e.g. <see cref="Ema.Weights"/>).</summary>
    public ValidationMetrics Evaluate(Tensor<float> weights, long step)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (weights.Length != model.Parameters.All.Length)
            throw new ArgumentException($"The weights hold {weights.Length} elements; the model's parameters {model.Parameters.All.Length}.", nameof(weights));
        model.Device.Kernels.Copy(weights, model.Parameters.All, checked((int)weights.Length));
        double nelboSum = 0;
        long tokens = 0, next = 0;
        for (ulong batch = 0; next < sequences; batch++)
        {
            Pass pass = sequences - next >= full.Batch.Corrupted.BatchSize ? full : remainder!;
            DiffusionBatch b = pass.Batch;
            int length = data.SequenceLength;
            for (int i = 0; i < b.Corrupted.BatchSize; i++) data.CopySequence(next + i, b.CleanIds.AsSpan(i * length, length));
            next += b.Corrupted.BatchSize;
            b.Corrupt(timeSeed, maskSeed, batch);
            Tensor<float> logits = b.Forward(model, pass.Activations, DitDropout.Off);
            nelboSum += b.Loss.EvaluateSum(logits, null, 1f);
            tokens += b.Loss.TokenSlots;
        }
        double nelbo = nelboSum / tokens;
        return new ValidationMetrics(step, nelbo, Math.Exp(nelbo), tokens, clock.Elapsed.TotalSeconds);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        full.Dispose();
        remainder?.Dispose();
        model.Dispose();
    }

    /// <summary>Buffers for one batch size.</summary>
    private sealed class Pass(Dit model, int batchSize, int sequenceLength) : IDisposable
    {
        public DiffusionBatch Batch { get; } = new(model.Config, model.Device, batchSize, sequenceLength, TimeSampler.Mdlm);

        public DitActivations Activations { get; } = model.CreateActivations(batchSize, sequenceLength, training: false);

        public void Dispose()
        {
            Batch.Dispose();
            Activations.Dispose();
        }
    }
}
