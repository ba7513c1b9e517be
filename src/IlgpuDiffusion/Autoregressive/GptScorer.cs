using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Autoregressive;

/// <summary>
/// Teacher-forced scoring: the log-likelihood log p(x_{t+1} | x_{≤t}) of every next token of given sequences, batched,
/// with the output head run in chunks of rows so that the [rows, V] logits of a large judge (GPT-2 large: V = 50257)
/// stay small. This is what the generative-perplexity judge uses (docs/algorithms.md §5.1: SDTT averages each sample's
/// <see cref="MeanNegativeLogLikelihoods"/> and exponentiates). Buffers are allocated once; scoring a batch allocates nothing.
/// </summary>
public sealed class GptScorer : IDisposable
{
    private readonly Gpt _model;
    private readonly GptActivations _activations;
    private readonly Tensor<int> _ids, _targets; // [batch·length] each
    private readonly Tensor<float> _weights, _losses; // [batch·length] each: 1 but at each sequence's last row; −log p
    private readonly int[] _hostIds, _hostTargets;
    private readonly float[] _hostLosses;

    /// <summary>Prepares scoring of sequences of <paramref name="length"/> tokens, <paramref name="batchSize"/> per pass.</summary>
    /// <param name="headRows">Rows per head call (bounds the logits to headRows·V floats); 0 for every row of a pass.</param>
    public GptScorer(Gpt model, int batchSize, int length, int headRows = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (length < 2 || length > model.Config.Length)
            throw new ArgumentOutOfRangeException(nameof(length),
                $"Scored sequences need 2 to {model.Config.Length} tokens (the model's length); got {length}.");
        int n = TokenRows.Of(batchSize, length);
        if (headRows < 0) throw new ArgumentOutOfRangeException(nameof(headRows), $"Head rows must be ≥ 0; got {headRows}.");
        _model = model;
        BatchSize = batchSize;
        Length = length;
        _activations = model.CreateActivations(batchSize, length, training: false, headCapacity: headRows == 0 ? n : Math.Min(headRows, n));
        var device = model.Device;
        _ids = device.AllocateTensor<int>(new Shape(n));
        _targets = device.AllocateTensor<int>(new Shape(n));
        _losses = device.AllocateTensor<float>(new Shape(n));
        _weights = device.Upload<float>(Enumerable.Range(0, n).Select(r => r % length == length - 1 ? 0f : 1f).ToArray(), new Shape(n));
        _hostIds = new int[n];
        _hostTargets = new int[n];
        _hostLosses = new float[n];
    }

    /// <summary>Sequences per pass.</summary>
    public int BatchSize { get; }

    /// <summary>Tokens per sequence.</summary>
    public int Length { get; }

    /// <summary>
    /// Writes log p(x_{t+1} | x_{≤t}) for t in [0, Length − 1) of every sequence: <paramref name="logLikelihoods"/>
    /// [count, Length − 1] for <paramref name="sequences"/> [count, Length], any count (a last partial batch is
    /// padded internally).
    /// </summary>
    /// <exception cref="ArgumentException">The spans do not hold whole sequences, or an id lies outside the vocabulary.</exception>
    public void LogLikelihoods(ReadOnlySpan<int> sequences, Span<float> logLikelihoods)
    {
        if (sequences.Length % Length != 0)
            throw new ArgumentException($"The ids ({sequences.Length}) are not a whole number of {Length}-token sequences.",
                nameof(sequences));
        int count = sequences.Length / Length;
        if (logLikelihoods.Length != count * (Length - 1))
            throw new ArgumentException($"{count} sequences give {count * (Length - 1)} log-likelihoods; " +
                $"the destination holds {logLikelihoods.Length}.", nameof(logLikelihoods));
        int vocab = _model.Config.Vocab;
        foreach (int id in sequences)
            if ((uint)id >= (uint)vocab)
                throw new ArgumentException($"Token {id} is outside the model's {vocab} tokens.", nameof(sequences));
        for (int first = 0; first < count; first += BatchSize)
        {
            int used = Math.Min(BatchSize, count - first);
            ScoreBatch(sequences.Slice(first * Length, used * Length));
            for (int b = 0; b < used; b++)
                for (int t = 0; t < Length - 1; t++)
                    logLikelihoods[(first + b) * (Length - 1) + t] = -_hostLosses[b * Length + t];
        }
    }

    /// <summary>Each sequence's mean negative log-likelihood over its Length − 1 predictions (nats).</summary>
    public double[] MeanNegativeLogLikelihoods(ReadOnlySpan<int> sequences)
    {
        var logLikelihoods = new float[sequences.Length / Length * (Length - 1)];
        LogLikelihoods(sequences, logLikelihoods);
        var means = new double[sequences.Length / Length];
        for (int s = 0; s < means.Length; s++)
        {
            double sum = 0;
            for (int t = 0; t < Length - 1; t++) sum -= logLikelihoods[s * (Length - 1) + t];
            means[s] = sum / (Length - 1);
        }
        return means;
    }

    /// <summary>
    /// Runs one pass over up to <see cref="BatchSize"/> sequences (the rest of the batch repeats the first) into the host losses.
    /// </summary>
    private void ScoreBatch(ReadOnlySpan<int> sequences)
    {
        int n = BatchSize * Length, vocab = _model.Config.Vocab, classes = _model.Config.PaddedVocab;
        for (int r = 0; r < n; r++)
        {
            int b = r / Length;
            _hostIds[r] = sequences[(b * Length < sequences.Length ? b * Length : 0) + r % Length];
        }
        for (int r = 0; r < n; r++) _hostTargets[r] = r % Length == Length - 1 ? 0 : _hostIds[r + 1];
        _ids.CopyFrom(_hostIds);
        _targets.CopyFrom(_hostTargets);
        _model.ForwardTrunk(_activations, _ids);
        var k = _model.Device.Kernels;
        for (int first = 0; first < n; first += _activations.HeadCapacity)
        {
            int rows = Math.Min(_activations.HeadCapacity, n - first);
            var logits = _model.ForwardHead(_activations, first, rows);
            k.CrossEntropy(logits, _targets.Slice(first, rows), _weights.Slice(first, rows), _losses.Slice(first, rows), null,
                rows, classes, vocab, 1f);
        }
        _losses.CopyTo(_hostLosses);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _activations.Dispose();
        foreach (var buffer in new IDisposable[] { _ids.Buffer, _targets.Buffer, _weights.Buffer, _losses.Buffer }) buffer.Dispose();
    }
}
