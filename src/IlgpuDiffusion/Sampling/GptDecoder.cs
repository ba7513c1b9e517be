using System.Runtime.CompilerServices;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Sampling;

/// <summary>
/// Autoregressive decoding with a KV cache: a batched prefill of the prompt (one <see cref="Gpt.ForwardCached"/> pass),
/// then one token per sequence and step, drawn on the device (<see cref="GptSamplingOptions"/>); only the drawn ids
/// come back to the host: after every step, or, for <see cref="Generate"/> without an end-of-text token, once at the end
/// (each step's draws feed the next pass on the device, so the host never waits for it meanwhile). A sequence finishes
/// at its end-of-text token (later positions hold end-of-text), and decoding stops when every sequence has finished or
/// the capacity is reached. Everything is allocated once per
/// (model, batch, capacity, prompt length): a step allocates nothing. Use <see cref="Generate"/>, <see cref="StreamAsync"/>,
/// or <see cref="Start"/> and <see cref="Step"/> for a hand-driven loop. Not thread-safe.
/// </summary>
public sealed class GptDecoder : IDisposable
{
    private readonly Gpt _model;
    private readonly GptKvCache _cache;
    private readonly Tensor<int> _promptIds, _stepIds, _drawn; // [batch·maxPromptLength], [batch], [batch]
    private readonly Tensor<int> _sequenceRows, _drawnHistory; // [batch]: 0, 1, …; [capacity·batch]: draws by position
    private readonly int[] _tokens, _lengths, _stepHost; // [batch·capacity], [batch] (0 while running), [batch]
    private readonly int[] _drawnHost; // [capacity·batch]: _drawnHistory read back
    private Tensor<float> _logits; // [batch, PaddedVocab]: the next-token logits of the last pass
    private int _passes;

    /// <summary>
    /// Allocates the cache and buffers for <paramref name="batchSize"/> sequences of up to <paramref name="capacity"/> tokens.
    /// </summary>
    /// <param name="maxPromptLength">Longest prompt <see cref="Start"/> accepts (below the capacity).</param>
    public GptDecoder(Gpt model, int batchSize, int capacity, int maxPromptLength, GptSamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (maxPromptLength < 1 || maxPromptLength >= capacity)
            throw new ArgumentOutOfRangeException(nameof(maxPromptLength),
                $"Prompts must hold 1 to capacity − 1 = {capacity - 1} tokens; got a longest prompt of {maxPromptLength}.");
        _model = model;
        Options = options.Validate(model.Config.Vocab);
        _cache = model.CreateCache(batchSize, capacity, maxPromptLength);
        var device = model.Device;
        _promptIds = device.AllocateTensor<int>(new Shape(batchSize * maxPromptLength));
        _stepIds = device.AllocateTensor<int>(new Shape(batchSize));
        _drawn = device.AllocateTensor<int>(new Shape(batchSize));
        _sequenceRows = device.Upload<int>(Enumerable.Range(0, batchSize).ToArray(), new Shape(batchSize));
        _drawnHistory = device.AllocateTensor<int>(new Shape(capacity * batchSize));
        _stepIds.CopyFrom(new int[batchSize]); // known to the host, so that ids scattered into it need no read-back
        _tokens = new int[batchSize * capacity];
        _lengths = new int[batchSize];
        _stepHost = new int[batchSize];
        _drawnHost = new int[capacity * batchSize];
        Progress = new GptGenerationProgress(_tokens, _lengths, capacity) { IsFinal = true };
    }

    /// <summary>How tokens are drawn.</summary>
    public GptSamplingOptions Options { get; }

    /// <summary>Sequences decoded together.</summary>
    public int BatchSize => _cache.Batch;

    /// <summary>Most tokens per sequence, prompt included.</summary>
    public int Capacity => _cache.Capacity;

    /// <summary>The running state (reused; valid until the next <see cref="Start"/> or <see cref="Step"/>).</summary>
    public GptGenerationProgress Progress { get; }

    /// <summary>Decodes from <paramref name="prompts"/> (see <see cref="Start"/>) to the end and returns the sequences.</summary>
    /// <param name="cancellationToken">Stops the decoding between tokens.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public GptGenerationResult Generate(IReadOnlyList<int[]> prompts, CancellationToken cancellationToken = default)
    {
        Start(prompts);
        if (Options.EndOfText is null)
        {
            GenerateOnDevice(cancellationToken);
            return Result();
        }
        do cancellationToken.ThrowIfCancellationRequested();
        while (Step());
        return Result();
    }

    /// <summary>
    /// Decodes to the capacity as <see cref="Step"/> does, without reading the draws until the end: each position's draws
    /// go to <see cref="_drawnHistory"/> and, through <see cref="IKernels.ScatterIds"/> (which replaces a −1 of a row
    /// without finite logits by a valid id), into the next pass's ids.
    /// </summary>
    private void GenerateOnDevice(CancellationToken cancellationToken)
    {
        var k = _model.Device.Kernels;
        int vocab = _model.Config.Vocab, first = Progress.Position, batch = BatchSize;
        for (int position = first; position < Capacity; position++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var drawn = _drawnHistory.Slice(position * batch, batch);
            Draw(k, drawn, position);
            if (position + 1 == Capacity) break;
            k.ScatterIds(drawn, _sequenceRows, _stepIds, batch, batch, vocab, replacement: 0);
            _logits = _model.ForwardCached(_cache, _stepIds, 1);
            _passes++;
        }
        _drawnHistory.Slice(first * batch, (Capacity - first) * batch).CopyTo(_drawnHost.AsSpan(first * batch));
        for (int position = first; position < Capacity; position++)
            for (int b = 0; b < batch; b++)
                _tokens[b * Capacity + position] = Drawn(_drawnHost[position * batch + b]);
        Progress.Position = Capacity;
        Progress.IsFinal = true;
    }

    /// <summary>Draws the next token of every sequence from <see cref="_logits"/> into <paramref name="ids"/> [batch].</summary>
    private void Draw(IKernels k, Tensor<int> ids, int position)
    {
        int vocab = _model.Config.Vocab, classes = _model.Config.PaddedVocab;
        if (Options.TopK > 0) k.KeepTopK(_logits, BatchSize, classes, vocab, Options.TopK);
        if (Options.Temperature == 0f)
            k.Argmax(_logits, ids, BatchSize, classes, vocab);
        else
            k.SampleCategorical(_logits, ids, BatchSize, classes, vocab,
                new SamplingParameters(Options.Seed, (ulong)position, Options.Temperature, Options.TopP, Options.Draw));
    }

    /// <summary>A drawn id, or the error of a row whose logits had nothing to draw (−1).</summary>
    private static int Drawn(int id) => id >= 0 ? id : throw new InvalidOperationException(
        "A token could not be sampled: the model's logits held no finite value (non-finite weights or activations).");

    /// <summary>
    /// Decodes like <see cref="Generate"/> (the same tokens for the same seed) and yields the growing sequences after
    /// every step, the last item with <see cref="GptGenerationProgress.IsFinal"/>. Steps run on the thread pool; the
    /// yielded object is reused, so read it before the next item.
    /// </summary>
    public async IAsyncEnumerable<GptGenerationProgress> StreamAsync(IReadOnlyList<int[]> prompts,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Start(prompts);
        bool more = true;
        while (more)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            more = Step();
            yield return Progress;
        }
    }

    /// <summary>
    /// Starts a run: writes the prompts and runs the prefill. <paramref name="prompts"/> holds one prompt for every
    /// sequence, or one per sequence, all of the same length (1 to the decoder's longest prompt); for unconditional
    /// GPT-2 samples, start from <c>&lt;|endoftext|&gt;</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The prompts are empty, of unequal or unsupported length, or hold ids outside
    /// the vocabulary.</exception>
    public void Start(IReadOnlyList<int[]> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count != 1 && prompts.Count != BatchSize)
            throw new ArgumentException($"Give one prompt for all sequences or one per sequence ({BatchSize}); got {prompts.Count}.",
                nameof(prompts));
        int length = prompts[0].Length;
        if (length < 1 || length > _cache.MaxNewTokens)
            throw new ArgumentException($"Prompts must hold 1 to {_cache.MaxNewTokens} tokens; got {length}.", nameof(prompts));
        int vocab = _model.Config.Vocab;
        for (int b = 0; b < BatchSize; b++)
        {
            var prompt = prompts[prompts.Count == 1 ? 0 : b];
            if (prompt.Length != length)
                throw new ArgumentException("Prompts of one batch must have the same length; " +
                    $"prompt {b} has {prompt.Length} tokens, prompt 0 {length}.", nameof(prompts));
            foreach (int id in prompt)
                if ((uint)id >= (uint)vocab)
                    throw new ArgumentException($"Prompt {b} holds token {id}, outside the model's {vocab} tokens.", nameof(prompts));
            prompt.CopyTo(_tokens, b * Capacity);
            _lengths[b] = 0;
        }
        var ids = _promptIds.Slice(0, BatchSize * length);
        for (int b = 0; b < BatchSize; b++)
            ids.Buffer.CopyFromHost(ids.Offset + (long)b * length, _tokens.AsSpan(b * Capacity, length));
        _cache.Reset();
        _logits = _model.ForwardCached(_cache, ids, length);
        _passes = 1;
        Progress.PromptLength = length;
        Progress.Position = length;
        Progress.IsFinal = false;
    }

    /// <summary>Draws one token per sequence and, unless decoding has ended, runs the next pass. Allocates nothing.</summary>
    /// <returns>Whether more tokens follow (false once every sequence has finished or the capacity is reached).</returns>
    /// <exception cref="InvalidOperationException">No run is in progress.</exception>
    public bool Step()
    {
        if (Progress.IsFinal) throw new InvalidOperationException("No decoding run is in progress; call Start first.");
        int position = Progress.Position;
        Draw(_model.Device.Kernels, _drawn, position);
        _drawn.CopyTo(_stepHost);
        foreach (ref int id in _stepHost.AsSpan()) id = Drawn(id);

        bool allFinished = Options.EndOfText is not null;
        int endOfText = Options.EndOfText ?? -1;
        for (int b = 0; b < BatchSize; b++)
        {
            if (_lengths[b] > 0) _stepHost[b] = endOfText;
            else if (_stepHost[b] == endOfText) _lengths[b] = position + 1;
            _tokens[b * Capacity + position] = _stepHost[b];
            allFinished &= _lengths[b] > 0;
        }
        Progress.Position = ++position;
        if (allFinished || position == Capacity)
        {
            Progress.IsFinal = true;
            return false;
        }
        _stepIds.CopyFrom(_stepHost);
        _logits = _model.ForwardCached(_cache, _stepIds, 1);
        _passes++;
        return true;
    }

    /// <summary>The finished sequences, each cut after its end-of-text token.</summary>
    /// <exception cref="InvalidOperationException">The run has not ended.</exception>
    public GptGenerationResult Result()
    {
        if (!Progress.IsFinal || Progress.PromptLength == 0) throw new InvalidOperationException("The decoding run has not ended.");
        var sequences = Enumerable.Range(0, BatchSize)
            .Select(b => _tokens.AsSpan(b * Capacity, Progress.Length(b)).ToArray()).ToArray();
        return new GptGenerationResult(sequences, Progress.PromptLength, _passes);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _cache.Dispose();
        _promptIds.Buffer.Dispose();
        _stepIds.Buffer.Dispose();
        _drawn.Buffer.Dispose();
        _sequenceRows.Buffer.Dispose();
        _drawnHistory.Buffer.Dispose();
    }
}
