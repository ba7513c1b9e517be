using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// Validation perplexity as MDLM reports it (docs/algorithms.md §2.8): the NELBO of every validation sequence at one random
/// time with one random mask, summed in double over the split and divided by its token count; PPL = exp(mean),
/// an upper bound. Times and masks come from a fixed seed and the batch number, so every pass over the same data
/// and weights gives the same number. Runs an evaluation copy of the model (no dropout) loaded with the given
/// weights, normally the EMA: one trunk pass per batch, then the output head and the loss in chunks of masked rows, so the
/// logits take <see cref="HeadChunks.Rows"/> rows whatever the batch.
/// </summary>
public sealed class ValidationPerplexity : IDisposable
{
    private readonly TokenShardSet _data;
    private readonly Dit _model;
    private readonly ulong _timeSeed, _maskSeed;
    private readonly long _sequences;
    private readonly Pass _full;
    private readonly Pass? _remainder;

    /// <summary>Prepares an evaluation model and buffers for <paramref name="data"/> in batches of <paramref name="batchSize"/>.</summary>
    /// <param name="maxBatches">Most batches per pass (0: the whole split, the last batch possibly smaller).</param>
    /// <exception cref="ArgumentException">
    /// The data holds no sequence, or does not fit the model: longer sequences than it takes, another tokenizer, or ids beyond
    /// its vocabulary.
    /// </exception>
    public ValidationPerplexity(DitConfig config, Device device, TokenShardSet data, int batchSize, ulong seed, int maxBatches = 0)
        : this(config, device, data, batchSize, seed, maxBatches, headChunkRows: null)
    {
    }

    /// <summary>Prepares a validation whose output head takes the masked rows in chunks of <paramref name="headChunkRows"/>.</summary>
    /// <param name="headChunkRows">Rows per head chunk (capped at a batch's rows), or null for <see cref="HeadChunks.Rows"/>.</param>
    internal ValidationPerplexity(DitConfig config, Device device, TokenShardSet data, int batchSize, ulong seed, int maxBatches,
        int? headChunkRows)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatches);
        if (headChunkRows is < 1)
            throw new ArgumentOutOfRangeException(nameof(headChunkRows), $"Head chunks need at least one row; got {headChunkRows}.");
        if (data.SequenceCount == 0) throw new ArgumentException("The validation shards hold no sequence.", nameof(data));
        TokenShardFit.Require(data, config.Tokenizer, config.Vocab, withMask: true, nameof(data));
        _data = data;
        _sequences = maxBatches > 0 ? Math.Min(data.SequenceCount, (long)maxBatches * batchSize) : data.SequenceCount;
        _timeSeed = TrainingSeeds.ValidationTimes(seed);
        _maskSeed = TrainingSeeds.ValidationMasks(seed);
        _model = new Dit(config, device, withGradients: false);
        int fullBatch = (int)Math.Min(batchSize, _sequences);
        _full = new Pass(_model, fullBatch, data.SequenceLength, headChunkRows);
        int rest = (int)(_sequences % fullBatch);
        if (rest > 0) _remainder = new Pass(_model, rest, data.SequenceLength, headChunkRows);
    }

    /// <summary>Sequences evaluated per pass.</summary>
    public long Sequences => _sequences;

    /// <summary>Evaluates <paramref name="weights"/> (laid out as the model's parameter arena, e.g. <see cref="Ema.Weights"/>).</summary>
    public ValidationMetrics Evaluate(Tensor<float> weights, long step)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (weights.Length != _model.Parameters.All.Length)
            throw new ArgumentException($"The weights hold {weights.Length} elements; " +
                $"the model's parameters {_model.Parameters.All.Length}.", nameof(weights));
        _model.Device.Kernels.Copy(weights, _model.Parameters.All, checked((int)weights.Length));
        double nelboSum = 0;
        long tokens = 0, next = 0;
        for (ulong batch = 0; next < _sequences; batch++)
        {
            Pass pass = _sequences - next >= _full.Batch.Corrupted.BatchSize ? _full : _remainder!;
            DiffusionBatch b = pass.Batch;
            int length = _data.SequenceLength;
            for (int i = 0; i < b.Corrupted.BatchSize; i++) _data.CopySequence(next + i, b.CleanIds.AsSpan(i * length, length));
            next += b.Corrupted.BatchSize;
            b.Corrupt(_timeSeed, _maskSeed, batch);
            nelboSum += Nelbo(pass);
            tokens += b.Loss.TokenSlots;
        }
        double nelbo = nelboSum / tokens;
        return new ValidationMetrics(step, nelbo, Math.Exp(nelbo), tokens, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Σ weights·NLL of the pass's corrupted batch: one trunk pass, then the head and loss in chunks of masked rows.</summary>
    private double Nelbo(Pass pass)
    {
        DiffusionBatch b = pass.Batch;
        b.ForwardTrunk(_model, pass.Activations);
        int masked = b.Corrupted.MaskedCount, chunk = pass.Activations.HeadCapacity;
        double sum = 0;
        for (int first = 0; first < masked; first += chunk)
        {
            int count = Math.Min(chunk, masked - first);
            Tensor<float> logits = _model.ForwardHead(pass.Activations, b.Loss.MaskedRows.Slice(first, count), count);
            sum = b.Loss.AddRows(sum, logits, first, count);
        }
        return sum;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _full.Dispose();
        _remainder?.Dispose();
        _model.Dispose();
    }

    /// <summary>Buffers for one batch size, the head's logits for one chunk of rows.</summary>
    private sealed class Pass(Dit model, int batchSize, int sequenceLength, int? headChunkRows) : IDisposable
    {
        public DiffusionBatch Batch { get; } = new(model.Config, model.Device, batchSize, sequenceLength, TimeSampler.Mdlm);

        public DitActivations Activations { get; } = model.CreateActivations(batchSize, sequenceLength, training: false,
            Math.Min(headChunkRows ?? HeadChunks.Rows(model.Config.PaddedVocab, TokenRows.Of(batchSize, sequenceLength)),
                TokenRows.Of(batchSize, sequenceLength)));

        public void Dispose()
        {
            Batch.Dispose();
            Activations.Dispose();
        }
    }
}
