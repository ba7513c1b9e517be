using System.Diagnostics;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Sampling;

/// <summary>
/// The ancestral ("ddpm") sampler of a masked diffusion model (docs/algorithms.md §3.1–§3.4), batched and seedable. Start from
/// all MASK (except prompt positions); at each step of the grid t: 1 → ε a masked position is revealed with
/// probability Δt/t and its token drawn from the model's SUBS distribution (MASK excluded, fp64 exponential race);
/// revealed tokens never change. A final noise-removal step fills any remaining MASK by argmax.
/// <para>
/// Only the output-head rows of revealed positions are computed. Drawn tokens stay on the device (<see cref="IKernels.ScatterIds"/>)
/// and the host decides which positions to reveal from which it revealed before, so that a run waits for the device once,
/// when it reads the tokens at its end (a streamed run also after each step). With <see cref="SamplerOptions.Cached"/> (MDLM's
/// <c>ddpm_cache</c>) the model trunk runs only when tokens changed since its last pass, which is exact for
/// a model without time conditioning: the cached and uncached samplers give identical ids for the same seed.
/// Randomness is counter-based: reveal decisions use <see cref="Philox.UniformDouble"/>(seed, reveal stream of the
/// step, position) and draws <see cref="IKernels.SampleCategorical"/> with the step as stream.
/// </para>
/// Holds its device buffers and activations for one (batch, length); the output head runs in chunks of rows, so that
/// its logits take about <see cref="HeadChunks.Bytes"/> whatever the batch (a batch of 32 × 1024 held 6.6 GB of them at
/// once), with the draws of one call over all rows. A step allocates nothing. One run at a time.
/// </summary>
public sealed partial class DiffusionSampler : IDisposable
{
    /// <summary>Reveal decisions use streams from here on; draws use the streams below it.</summary>
    private const ulong RevealStreams = 1UL << 62;

    /// <summary>Each semi-autoregressive window draws from its own block of streams.</summary>
    private const int WindowStreamShift = 32;

    private readonly Dit _model;
    private readonly IKernels _k;
    private readonly SamplingGrid _grid;
    private readonly bool _timeConditioned;
    private readonly int _maskId, _rowCount, _chunkRows;
    private readonly DitActivations _activations; // inference arena, [batch, length], head capacity _chunkRows
    private readonly Tensor<int> _deviceIds;      // [batch, length], the run's tokens, drawn ones written on the device
    private readonly Tensor<int> _headRows;       // [batch·length], the rows a step reveals
    private readonly Tensor<int> _drawn;          // [batch·length], their drawn tokens
    private readonly int[] _ids, _fixed, _rows;   // host, [batch·length] each; _fixed is −1 where free
    private readonly bool[] _masked;              // host, [batch·length]: positions not revealed yet
    private readonly float[] _sigma;              // [batch], for time-conditioned models
    private readonly SamplingProgress _progress;
    private readonly Lock _state = new();         // held while a run changes the tokens, and by a streamed item's read of them
    private int _forwardPasses, _maskedCount, _running;
    private bool _trunkCurrent, _idsCurrent;      // _idsCurrent: _ids holds the device's tokens
    private ulong _streamBase;

    /// <summary>Prepares a sampler of <paramref name="model"/> for batches of <see cref="SamplerOptions.BatchSize"/> sequences.</summary>
    /// <param name="length">Tokens per sequence, at most the model's length (the default).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option or the length is out of range.</exception>
    public DiffusionSampler(Dit model, SamplerOptions options, int? length = null)
        : this(model, options, length, headChunkRows: null)
    {
    }

    /// <summary>A sampler whose head chunks hold <paramref name="headChunkRows"/> rows (capped at batch·length).</summary>
    /// <param name="headChunkRows">Rows per head chunk, or null for <see cref="HeadChunks.Rows"/>.</param>
    internal DiffusionSampler(Dit model, SamplerOptions options, int? length, int? headChunkRows)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
        Length = length ?? model.Config.Length;
        if (Length < 1 || Length > model.Config.Length)
            throw new ArgumentOutOfRangeException(nameof(length),
                $"The sequence length must be in [1, {model.Config.Length}] (the model's length); got {Length}.");
        _model = model;
        _k = model.Device.Kernels;
        _grid = new SamplingGrid(options.Steps, options.Epsilon);
        _timeConditioned = model.Config.TimeConditioning;
        UsesCache = options.Cached && !_timeConditioned;
        _maskId = model.Config.MaskIndex;
        int batch = options.BatchSize;
        _rowCount = TokenRows.Of(batch, Length);
        _chunkRows = Math.Clamp(headChunkRows ?? HeadChunks.Rows(model.Config.PaddedVocab, _rowCount), 1, _rowCount);
        _activations = model.CreateActivations(batch, Length, training: false, headCapacity: _chunkRows);
        var device = model.Device;
        _deviceIds = device.AllocateTensor<int>(new Shape(batch, Length));
        _headRows = device.AllocateTensor<int>(new Shape(_rowCount));
        _drawn = device.AllocateTensor<int>(new Shape(_rowCount));
        _ids = new int[_rowCount];
        _fixed = new int[_rowCount];
        _rows = new int[_rowCount];
        _masked = new bool[_rowCount];
        _sigma = new float[batch];
        _progress = new SamplingProgress(_ids, ReadStreamedTokens, batch, Length, options.Steps);
    }

    /// <summary>The settings.</summary>
    public SamplerOptions Options { get; }

    /// <summary>Tokens per sequence.</summary>
    public int Length { get; }

    /// <summary>Whether model outputs are reused while no token changed (cached and no time conditioning).</summary>
    public bool UsesCache { get; }

    /// <summary>
    /// Samples <see cref="SamplerOptions.BatchSize"/> sequences, starting from <paramref name="prompt"/>'s tokens if given.
    /// </summary>
    /// <param name="cancellationToken">Stops the sampling between steps.</param>
    /// <param name="progress">
    /// Told after every denoising step how many of the run's steps are done, on the sampling thread; unlike
    /// <see cref="StreamAsync"/> it reads no tokens, so the run still waits for the device once.
    /// </param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public SamplingResult Sample(SamplingPrompt? prompt = null, CancellationToken cancellationToken = default,
        IProgress<SamplingStepCount>? progress = null)
    {
        long start = Stopwatch.GetTimestamp();
        Enter();
        try
        {
            lock (_state)
            {
                Begin(prompt, window: 0);
                RunWindow(progress is null ? null : new WindowSteps(progress, Options.Steps), cancellationToken);
                return new SamplingResult(_ids.ToArray(), Options.BatchSize, Length, _forwardPasses, Stopwatch.GetElapsedTime(start));
            }
        }
        finally { Exit(); }
    }

    /// <summary>Resets the state for a new run: prompt tokens in place, MASK elsewhere.</summary>
    private void Begin(SamplingPrompt? prompt, int window)
    {
        if (prompt is null) _fixed.AsSpan().Fill(-1);
        else prompt.Write(_fixed, Options.BatchSize, Length, _maskId);
        _forwardPasses = 0;
        BeginWindow(window);
    }

    /// <summary>Starts a run (or a semi-autoregressive window) from the fixed tokens already in <see cref="_fixed"/>.</summary>
    private void BeginWindow(int window)
    {
        _streamBase = (ulong)window << WindowStreamShift;
        _maskedCount = 0;
        for (int p = 0; p < _rowCount; p++)
        {
            _masked[p] = _fixed[p] < 0;
            _ids[p] = _masked[p] ? _maskId : _fixed[p];
            if (_masked[p]) _maskedCount++;
        }
        _deviceIds.CopyFrom(_ids);
        _idsCurrent = true;
        _trunkCurrent = false;
    }

    /// <summary>Step i of the grid: choose the positions to reveal, draw their tokens. Returns how many were revealed.</summary>
    private int Step(int step)
    {
        double probability = _grid.RevealProbability(step);
        ulong seed = Options.Seed, revealStream = RevealStreams + _streamBase + (ulong)step;
        int count = 0;
        for (int p = 0; p < _rowCount; p++)
            if (_masked[p] && Philox.UniformDouble(seed, revealStream, p) < probability)
                _rows[count++] = p;

        if (!UsesCache || (count > 0 && !_trunkCurrent))
            RunTrunk(_grid.Time(step));
        if (count == 0) return 0;
        var parameters = new SamplingParameters(seed, _streamBase + (ulong)step, Options.Temperature, Options.TopP, Options.Draw);
        Reveal(count, Options.Temperature == 0 ? null : parameters);
        return count;
    }

    /// <summary>Noise removal: every position still masked takes the model's most likely token (MASK excluded).</summary>
    private void Finish()
    {
        if (!Options.NoiseRemoval || _maskedCount == 0) return;
        int count = 0;
        for (int p = 0; p < _rowCount; p++)
            if (_masked[p]) _rows[count++] = p;
        if (!(UsesCache && _trunkCurrent))
            RunTrunk(Options.Epsilon);
        Reveal(count, draw: null);
    }

    /// <summary>
    /// The first <paramref name="count"/> positions of <see cref="_rows"/> take a token drawn from the model's output at
    /// them (its argmax without <paramref name="draw"/>), written into the device's tokens; MASK stays where no finite
    /// logit left a token to draw, which <see cref="ReadTokens"/> reports. The head runs chunk by chunk, each chunk's
    /// draws counted from its first row (the ids one call over all rows would draw).
    /// </summary>
    private void Reveal(int count, SamplingParameters? draw)
    {
        var rows = _headRows.Slice(0, count);
        rows.CopyFrom(_rows.AsSpan(0, count));
        int classes = _model.Config.PaddedVocab;
        for (int first = 0; first < count; first += _chunkRows)
        {
            int chunk = Math.Min(_chunkRows, count - first);
            var logits = _model.ForwardHead(_activations, _headRows.Slice(first, chunk), chunk);
            var drawn = _drawn.Slice(first, chunk);
            if (draw is { } parameters)
                _k.SampleCategorical(logits, drawn, chunk, classes, _maskId, parameters with { FirstRow = first });
            else
                _k.Argmax(logits, drawn, chunk, classes, _maskId);
        }
        _k.ScatterIds(_drawn.Slice(0, count), rows, _deviceIds, count, _rowCount, _maskId, _maskId);
        for (int j = 0; j < count; j++) _masked[_rows[j]] = false;
        _maskedCount -= count;
        _trunkCurrent = false;
        _idsCurrent = false;
    }

    /// <summary>
    /// Copies the device's tokens into <see cref="_ids"/> (waits for the device) unless it holds them already.
    /// </summary>
    /// <exception cref="InvalidOperationException">A revealed position holds MASK: its logits had no finite value.</exception>
    private void ReadTokens()
    {
        if (_idsCurrent) return;
        _deviceIds.CopyTo(_ids);
        _idsCurrent = true;
        int failed = 0;
        for (int p = 0; p < _rowCount; p++)
            if (_fixed[p] < 0 && !_masked[p] && _ids[p] == _maskId) failed++;
        if (failed > 0)
            throw new InvalidOperationException($"{failed} position(s) could not be sampled: the model's logits there held no " +
                "finite value (non-finite weights or activations).");
    }

    /// <summary>One model trunk pass on the current ids at time <paramref name="time"/> (read only with time conditioning).</summary>
    private void RunTrunk(double time)
    {
        if (_timeConditioned)
            _sigma.AsSpan().Fill((float)NoiseSchedule.LogLinear.TotalNoise(time));
        _model.ForwardTrunk(_activations, _deviceIds, _timeConditioned ? _sigma : default);
        _forwardPasses++;
        _trunkCurrent = true;
    }

    private void Enter()
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
            throw new InvalidOperationException("This sampler is already running; use one sampler per concurrent run.");
    }

    private void Exit() => Volatile.Write(ref _running, 0);

    /// <summary>Frees the device buffers and activations.</summary>
    public void Dispose()
    {
        _activations.Dispose();
        _deviceIds.Buffer.Dispose();
        _headRows.Buffer.Dispose();
        _drawn.Buffer.Dispose();
    }
}
