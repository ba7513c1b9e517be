using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// A <see cref="Gpt"/> (trained by the library, or GPT-2 imported with <see cref="GptHuggingFace.Load"/>) as the judge of
/// generative perplexity (<see cref="ITokenScorer"/>, over <see cref="GptScorer"/>) and as the feature model of MAUVE
/// (<see cref="IFeatureExtractor"/>: the final LayerNorm output at each sequence's last token, as the reference MAUVE
/// takes GPT-2 large's last hidden state).
/// </summary>
/// <remarks>
/// Sequences are run at a bucket length, the smallest power of two that holds them (at most the model's context),
/// padded after their end with token 0: the model is causal, so padding changes no score or feature of the real tokens.
/// One scorer and one feature arena are kept per bucket used, so retokenized samples of many lengths cost a handful of
/// allocations, not one per length. Not thread-safe. The judge does not own the model.
/// </remarks>
public sealed class GptJudge : ITokenScorer, IFeatureExtractor, IDisposable
{
    private const int PaddingToken = 0;
    private readonly Gpt _model;
    private readonly int _headRows;
    private readonly Dictionary<int, GptScorer> _scorers = [];
    private readonly Dictionary<int, FeatureArena> _features = [];

    /// <summary>Wraps <paramref name="model"/> (weights already loaded, e.g. the EMA of an own checkpoint).</summary>
    /// <param name="batchSize">Sequences per forward pass.</param>
    /// <param name="headRows">Output-head rows per call when scoring (bounds the logits to headRows·V floats); 0 for all.</param>
    public GptJudge(Gpt model, int batchSize = 8, int headRows = 1024)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(headRows);
        if (model.Config.Length < 2)
            throw new ArgumentException($"A judge needs a context of at least 2 tokens; the model has {model.Config.Length}.",
                nameof(model));
        _model = model;
        BatchSize = batchSize;
        _headRows = headRows;
    }

    /// <summary>Sequences per forward pass.</summary>
    public int BatchSize { get; }

    /// <inheritdoc/>
    public int MaxLength => _model.Config.Length;

    /// <inheritdoc/>
    public int FeatureWidth => _model.Config.Hidden;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The spans do not match [batch, length], the length is outside
    /// [2, MaxLength], or an id is outside the vocabulary.</exception>
    public void ScoreNextTokens(ReadOnlySpan<int> ids, int batch, int length, Span<float> logLikelihoods)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (length < 2 || length > MaxLength)
            throw new ArgumentException($"The judge scores sequences of 2 to {MaxLength} tokens; got {length}.", nameof(length));
        if (ids.Length != batch * length) throw new ArgumentException($"Expected {batch}×{length} ids, got {ids.Length}.", nameof(ids));
        if (logLikelihoods.Length != batch * (length - 1))
            throw new ArgumentException($"Expected {batch}×{length - 1} log-likelihoods, got {logLikelihoods.Length}.",
                nameof(logLikelihoods));
        int bucket = Bucket(length);
        GptScorer scorer = Scorer(bucket);
        if (bucket == length)
        {
            scorer.LogLikelihoods(ids, logLikelihoods);
            return;
        }
        var padded = new int[batch * bucket];
        padded.AsSpan().Fill(PaddingToken);
        for (int b = 0; b < batch; b++) ids.Slice(b * length, length).CopyTo(padded.AsSpan(b * bucket));
        var all = new float[batch * (bucket - 1)];
        scorer.LogLikelihoods(padded, all);
        for (int b = 0; b < batch; b++)
            all.AsSpan(b * (bucket - 1), length - 1).CopyTo(logLikelihoods.Slice(b * (length - 1)));
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A sequence is empty, longer than the context, or holds an id outside the vocabulary.</exception>
    public float[][] Features(IReadOnlyList<int[]> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        for (int i = 0; i < sequences.Count; i++)
        {
            int[] sequence = sequences[i] ?? throw new ArgumentException($"Sequence {i} is null.", nameof(sequences));
            if (sequence.Length == 0 || sequence.Length > MaxLength)
                throw new ArgumentException($"Sequence {i} has {sequence.Length} tokens; " +
                    $"features need 1 to {MaxLength} (truncate it first).", nameof(sequences));
            foreach (int id in sequence)
                if ((uint)id >= (uint)_model.Config.Vocab)
                    throw new ArgumentException($"Sequence {i} holds token {id}, outside the judge's {_model.Config.Vocab} tokens.",
                        nameof(sequences));
        }
        var result = new float[sequences.Count][];
        int width = FeatureWidth;
        foreach (IGrouping<int, int> sameBucket in Enumerable.Range(0, sequences.Count).GroupBy(i => Bucket(sequences[i].Length)))
        {
            FeatureArena arena = FeatureArenaFor(sameBucket.Key);
            foreach (int[] members in sameBucket.Chunk(BatchSize))
            {
                arena.Fill(sequences, members);
                _model.ForwardTrunk(arena.Activations, arena.Ids);
                for (int b = 0; b < members.Length; b++)
                {
                    var vector = new float[width];
                    arena.Activations.FinalNorm.Slice(b * arena.Length + sequences[members[b]].Length - 1, 1).CopyTo(vector);
                    result[members[b]] = vector;
                }
            }
        }
        return result;
    }

    /// <summary>The smallest power of two ≥ <paramref name="length"/> (at least 2), capped at the context length.</summary>
    private int Bucket(int length) => Math.Min(MaxLength, (int)Math.Max(2, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)length)));

    private GptScorer Scorer(int bucket)
    {
        if (!_scorers.TryGetValue(bucket, out GptScorer? scorer))
            _scorers[bucket] = scorer = new GptScorer(_model, BatchSize, bucket, _headRows);
        return scorer;
    }

    private FeatureArena FeatureArenaFor(int bucket)
    {
        if (!_features.TryGetValue(bucket, out FeatureArena? arena))
            _features[bucket] = arena = new FeatureArena(_model, BatchSize, bucket);
        return arena;
    }

    /// <summary>Frees the scorers and feature arenas (not the model).</summary>
    public void Dispose()
    {
        foreach (GptScorer scorer in _scorers.Values) scorer.Dispose();
        foreach (FeatureArena arena in _features.Values) arena.Dispose();
        _scorers.Clear();
        _features.Clear();
    }

    /// <summary>Trunk activations and padded ids for [batch, length] feature passes.</summary>
    private sealed class FeatureArena(Gpt model, int batch, int length) : IDisposable
    {
        private readonly int[] _host = new int[batch * length];

        public int Length => length;

        public GptActivations Activations { get; } = model.CreateActivations(batch, length, training: false, headCapacity: 1);

        public Tensor<int> Ids { get; } = model.Device.AllocateTensor<int>(new Shape(batch * length));

        /// <summary>Uploads the member sequences, padded with token 0; unused rows of a last partial batch repeat the first.</summary>
        public void Fill(IReadOnlyList<int[]> sequences, int[] members)
        {
            _host.AsSpan().Fill(PaddingToken);
            for (int b = 0; b < batch; b++)
                sequences[members[b < members.Length ? b : 0]].CopyTo(_host, b * length);
            Ids.CopyFrom(_host);
        }

        public void Dispose()
        {
            Activations.Dispose();
            Ids.Buffer.Dispose();
        }
    }
}
