using System.Diagnostics;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Autoregressive;

/// <summary>
/// Validation perplexity of an autoregressive model: the next-token negative log-likelihood of every validation
/// sequence (L − 1 predictions each), summed in double and divided by the prediction count; PPL = exp(mean), exact
/// (reported in <see cref="ValidationMetrics.Nelbo"/>, which for this model is the NLL itself). Runs an evaluation copy
/// of the model (no dropout) loaded with the given weights, normally the EMA.
/// </summary>
public sealed class ArValidation : IDisposable
{
    private readonly TokenShardSet _data;
    private readonly Gpt _model;
    private readonly long _sequences;
    private readonly Pass _full;
    private readonly Pass? _remainder;

    /// <summary>Prepares an evaluation model and buffers for <paramref name="data"/> in batches of <paramref name="batchSize"/>.</summary>
    /// <param name="maxBatches">Most batches per pass (0: the whole split, the last batch possibly smaller).</param>
    /// <exception cref="ArgumentException">
    /// The data holds no sequence, or does not fit the model: sequence length, tokenizer or ids beyond its vocabulary.
    /// </exception>
    public ArValidation(GptConfig config, Device device, TokenShardSet data, int batchSize, int maxBatches = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatches);
        if (data.SequenceCount == 0) throw new ArgumentException("The validation shards hold no sequence.", nameof(data));
        if (data.SequenceLength < 2 || data.SequenceLength > config.Length)
            throw new ArgumentException($"Validation sequences hold {data.SequenceLength} tokens; the model takes 2 to {config.Length}.",
                nameof(data));
        TokenShardFit.Require(data, config.Tokenizer, config.Vocab, withMask: false, nameof(data));
        _data = data;
        _sequences = maxBatches > 0 ? Math.Min(data.SequenceCount, (long)maxBatches * batchSize) : data.SequenceCount;
        _model = new Gpt(config, device, withGradients: false);
        int full = (int)Math.Min(batchSize, _sequences);
        _full = new Pass(_model, full, data.SequenceLength);
        int rest = (int)(_sequences % full);
        if (rest > 0) _remainder = new Pass(_model, rest, data.SequenceLength);
    }

    /// <summary>Sequences evaluated per pass.</summary>
    public long Sequences => _sequences;

    /// <summary>Evaluates <paramref name="weights"/> (laid out as the model's parameter arena, e.g. <see cref="Ema.Weights"/>).</summary>
    public ValidationMetrics Evaluate(Tensor<float> weights, long step)
    {
        var clock = Stopwatch.StartNew();
        if (weights.Length != _model.Parameters.All.Length)
            throw new ArgumentException($"The weights hold {weights.Length} elements; " +
                $"the model's parameters {_model.Parameters.All.Length}.", nameof(weights));
        _model.Device.Kernels.Copy(weights, _model.Parameters.All, checked((int)weights.Length));
        double sum = 0;
        long predictions = 0;
        int length = _data.SequenceLength;
        for (long next = 0; next < _sequences;)
        {
            var pass = _sequences - next >= _full.Batch.BatchSize ? _full : _remainder!;
            var batch = pass.Batch;
            for (int i = 0; i < batch.BatchSize; i++) _data.CopySequence(next + i, batch.Ids.AsSpan(i * length, length));
            next += batch.BatchSize;
            batch.Upload();
            var logits = _model.Forward(pass.Activations, batch.DeviceIds, GptDropout.Off);
            sum += batch.Evaluate(logits, null, _model.Config, 1f);
            predictions += batch.Predictions;
        }
        double nll = sum / predictions;
        return new ValidationMetrics(step, nll, Math.Exp(nll), predictions, clock.Elapsed.TotalSeconds) { ExactLikelihood = true };
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _full.Dispose();
        _remainder?.Dispose();
        _model.Dispose();
    }

    /// <summary>Buffers for one batch size.</summary>
    private sealed class Pass(Gpt model, int batchSize, int length) : IDisposable
    {
        public NextTokenBatch Batch { get; } = new(model.Device, batchSize, length);

        public GptActivations Activations { get; } = model.CreateActivations(batchSize, length, training: false);

        public void Dispose()
        {
            Batch.Dispose();
            Activations.Dispose();
        }
    }
}
