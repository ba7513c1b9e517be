using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Distillation;

/// <summary>A chunk of teacher targets: targets [First, First + Count) of the target order.</summary>
/// <param name="First">The chunk's first target.</param>
/// <param name="Count">Targets in the chunk.</param>
/// <param name="LogProbs">[Count, head width] the teacher's log-probs, row for row; valid until the next chunk.</param>
/// <param name="HeadRows">
/// [Count rounded up to the head-row multiple, at most the positions from First on] <see cref="Rows"/>, then the rows
/// that follow them in the target order and, past the last target, unmasked positions: distinct rows a student's head may
/// compute beside the chunk's, their gradients zeroed, so that its GEMMs take whole tiles.
/// </param>
internal readonly record struct TargetChunk(int First, int Count, Tensor<float> LogProbs, Tensor<int> HeadRows)
{
    /// <summary>[Count] the positions b·L + l of z_t the targets belong to.</summary>
    public Tensor<int> Rows => HeadRows.Slice(0, Count);
}

/// <summary>
/// SDTT's teacher targets (docs/algorithms.md §4.3, paper Algorithm 1) for the masked positions of a corrupted batch z_t. The
/// teacher takes K ancestral steps of size Δ from z_t: at step i (time t_i from <see cref="TeacherTimeGrid"/>) each
/// still-masked position is revealed with probability Δ/t_i and its token drawn from the teacher's SUBS distribution
/// on the current state; a position revealed at step i takes the teacher's log-probs of step i as its target, and
/// positions still masked at the last step take that step's. The reveal decisions do not depend on the teacher's
/// output (drawing from the ancestral posterior is the same as deciding the reveal first, then drawing the token),
/// so <see cref="Plan"/> fixes every step's rows up front, each step's output head runs only on the rows whose
/// targets it fixes, and every masked row is computed once.
/// <para>
/// Targets come in the order their steps fixed them (<see cref="Rows"/>), in chunks of at most <see cref="ChunkRows"/>
/// rows (<see cref="NextChunk"/>): one teacher pass over the batch per step, then its head, log-probs and draws chunk by
/// chunk, so the V-wide buffers hold one chunk however many rows the batch has. Reveals and draws come from Philox keys
/// and a stream (the micro-batch counter), and a chunk's draws continue the counters of the chunks before it, so the
/// same inputs give the same targets at every chunk size. Drawn tokens stay on the device (<see cref="IKernels.ScatterIds"/>
/// writes them into the state the next teacher pass reads), so computing targets never waits for the device. Buffers are
/// sized once; nothing is allocated per batch.
/// </para>
/// </summary>
internal sealed class TeacherTargets : IDisposable
{
    private readonly int _tokens, _steps, _headRowMultiple;
    private readonly int[] _ids, _hostRows, _pending, _revealed;
    private readonly double[] _times;
    private readonly float[] _sigma;
    private readonly Tensor<int> _deviceIds, _draws;
    private double _stepSize;
    private bool _compat, _idsCurrent; // _idsCurrent: _ids holds the device's state
    private ulong _drawSeed, _stream;
    private int _step, _stepStart, _stepEnd, _next, _listedRows;

    /// <summary>
    /// Allocates buffers for batches of <paramref name="batch"/> × <paramref name="tokens"/> ids and log-probs laid out as
    /// <paramref name="head"/>, with chunks of up to <paramref name="chunkRows"/> rows.
    /// </summary>
    /// <param name="device">Where the targets live.</param>
    /// <param name="batch">Sequences per batch.</param>
    /// <param name="tokens">Ids per sequence.</param>
    /// <param name="head">The columns of a row of log-probs.</param>
    /// <param name="teacherSteps">K, the ancestral teacher steps per target.</param>
    /// <param name="chunkRows">Most targets per chunk.</param>
    /// <param name="headRowMultiple">The multiple a chunk's <see cref="TargetChunk.HeadRows"/> are rounded up to.</param>
    public TeacherTargets(Device device, int batch, int tokens, HeadLayout head, int teacherSteps, int chunkRows,
        int headRowMultiple = 1)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        head.Validate(nameof(head));
        ArgumentOutOfRangeException.ThrowIfLessThan(teacherSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headRowMultiple, 1);
        int rows = TokenRows.Of(batch, tokens);
        if ((long)chunkRows * head.Width > int.MaxValue)
            throw new ArgumentException($"Target chunks of {chunkRows} rows of {head.Width} columns exceed {int.MaxValue} floats; " +
                "use smaller chunks.", nameof(chunkRows));
        _tokens = tokens;
        _steps = teacherSteps;
        _headRowMultiple = headRowMultiple;
        Head = head;
        ChunkRows = chunkRows;
        _ids = new int[rows];
        _hostRows = new int[rows];
        _pending = new int[rows];
        _revealed = new int[teacherSteps];
        _times = new double[batch];
        _sigma = new float[batch];
        _deviceIds = device.AllocateTensor<int>(new Shape(batch, tokens));
        _draws = device.AllocateTensor<int>(new Shape(chunkRows));
        Rows = device.AllocateTensor<int>(new Shape(rows));
        LogProbs = device.AllocateTensor<float>(new Shape(chunkRows, head.Width));
        _step = _steps - 1; // nothing planned: no chunk
    }

    /// <summary>The columns of a row of log-probs: the vocabulary (MASK last), then any padding.</summary>
    public HeadLayout Head { get; }

    /// <summary>Most targets per chunk.</summary>
    public int ChunkRows { get; }

    /// <summary>Masked positions of the last <see cref="Plan"/>: how many targets there are.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// The masked rows b·L + l of z_t in target order (grouped by the teacher step that fixes them). <c>[Count]</c> valid of <c>[B·L]</c>
    /// </summary>
    public Tensor<int> Rows { get; }

    /// <summary>The teacher's log-probs of the last chunk. <c>[chunk, V]</c> valid of <c>[ChunkRows, V]</c></summary>
    public Tensor<float> LogProbs { get; }

    /// <summary>The host copy of <see cref="Rows"/> (first <see cref="Count"/> valid).</summary>
    public ReadOnlySpan<int> HostRows => _hostRows.AsSpan(0, Count);

    /// <summary>
    /// How many targets each teacher step fixes in the last <see cref="Plan"/> (the last step: all still masked). <c>[K]</c>
    /// </summary>
    public ReadOnlySpan<int> TargetsPerStep => _revealed;

    /// <summary>
    /// The state after the chunks so far; after the last one, the state of the last teacher step (z_t plus the tokens drawn
    /// before it; MASK where a draw found no finite log-prob). Read from the device (a wait) after new draws. <c>[B·L]</c>
    /// </summary>
    public ReadOnlySpan<int> FinalIds
    {
        get
        {
            if (!_idsCurrent) _deviceIds.CopyTo(_ids);
            _idsCurrent = true;
            return _ids;
        }
    }

    /// <summary>
    /// Starts the targets of <paramref name="batch"/> (its times, noisy ids and masked rows): decides which teacher step
    /// fixes each masked row (<see cref="Rows"/>, <see cref="TargetsPerStep"/>); <see cref="NextChunk"/> then computes them.
    /// </summary>
    /// <param name="stepSize">Δ: the teacher's step size.</param>
    /// <param name="compatReleasedCode">Use the released code's time grid.</param>
    /// <param name="revealSeed">Philox key of the reveal decisions.</param>
    /// <param name="drawSeed">Philox key of the teacher's token draws.</param>
    /// <param name="stream">Counter of this batch (e.g. the micro-batch number); streams stream·K + i are used.</param>
    /// <exception cref="ArgumentException">The batch does not match these buffers.</exception>
    public void Plan(CorruptedBatch batch, double stepSize, bool compatReleasedCode, ulong revealSeed, ulong drawSeed, ulong stream)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Elements != _ids.Length || batch.SequenceLength != _tokens)
            throw new ArgumentException($"The targets are sized for {_ids.Length / _tokens} × {_tokens} ids; " +
                $"the batch is {batch.BatchSize} × {batch.SequenceLength}.", nameof(batch));
        batch.NoisyIds.CopyTo(_ids, 0);
        batch.Times.CopyTo(_times, 0);
        int remaining = batch.MaskedCount;
        batch.MaskedRows.AsSpan(0, remaining).CopyTo(_pending);
        int filled = 0;
        for (int step = 0; step < _steps; step++)
        {
            int count = step == _steps - 1
                ? TakeAll(ref remaining, filled)
                : TakeReveals(ref remaining, filled, step, stepSize, compatReleasedCode, revealSeed, StepStream(stream, step));
            _revealed[step] = count;
            filled += count;
        }
        Count = filled;
        _listedRows = filled + ListUnmaskedRows(filled, Math.Min(_headRowMultiple - 1, _ids.Length - filled));
        if (_listedRows > 0) Rows.Slice(0, _listedRows).CopyFrom(_hostRows.AsSpan(0, _listedRows));
        _deviceIds.CopyFrom(_ids);
        _idsCurrent = true;
        (_stepSize, _compat, _drawSeed, _stream) = (stepSize, compatReleasedCode, drawSeed, stream);
        (_step, _stepStart, _stepEnd, _next) = (-1, 0, 0, 0);
    }

    /// <summary>
    /// Computes the next chunk of the planned targets: at a step's first chunk the teacher reads that step's state; then its
    /// log-probs for the chunk's rows, and (before the last step) the tokens drawn for them. False when every target is done.
    /// </summary>
    /// <param name="teacher">The frozen teacher.</param>
    /// <exception cref="ArgumentException">The teacher does not match these buffers.</exception>
    public bool NextChunk(ITeacher teacher, out TargetChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        if (teacher.Head != Head)
            throw new ArgumentException($"The teacher's head is {teacher.Head}; the targets are sized for {Head}.", nameof(teacher));
        while (_next == _stepEnd)
        {
            if (_step == _steps - 1)
            {
                chunk = default;
                return false;
            }
            _step++;
            (_stepStart, _stepEnd) = (_next, _next + _revealed[_step]);
            if (_stepEnd > _stepStart) ReadState(teacher); // a step that fixes no target runs no teacher pass
        }
        int first = _next, count = Math.Min(ChunkRows, _stepEnd - first);
        Tensor<int> rows = Rows.Slice(first, count);
        Tensor<float> logProbs = LogProbs.Slice(0, count);
        teacher.LogProbs(rows, count, logProbs);
        if (_step < _steps - 1) Reveal(logProbs, rows, first, count);
        _next = first + count;
        int headRows = HeadRowPadding.Of(count, _headRowMultiple, _listedRows - first);
        chunk = new TargetChunk(first, count, logProbs, Rows.Slice(first, headRows));
        return true;
    }

    /// <summary>
    /// Lists up to <paramref name="count"/> unmasked positions of the planned batch, the first ones, after its targets (from
    /// <paramref name="from"/> on in <see cref="_hostRows"/>): the rows a last chunk's head rows are padded with. Returns
    /// how many it listed.
    /// </summary>
    private int ListUnmaskedRows(int from, int count)
    {
        int listed = 0;
        for (int p = 0; p < _ids.Length && listed < count; p++)
            if (_ids[p] != Head.MaskIndex)
                _hostRows[from + listed++] = p;
        return listed;
    }

    private ulong StepStream(ulong stream, int step) => stream * (ulong)_steps + (ulong)step;

    /// <summary>The teacher reads the current state at the current step's time.</summary>
    private void ReadState(ITeacher teacher)
    {
        for (int b = 0; b < _sigma.Length; b++)
            _sigma[b] = (float)NoiseSchedule.LogLinear.TotalNoise(TeacherTimeGrid.Time(_times[b], _stepSize, _step, _steps, _compat));
        teacher.Prepare(_deviceIds, _sigma);
    }

    /// <summary>
    /// Moves the positions revealed at <paramref name="step"/> from the pending list to the target order; returns how many.
    /// </summary>
    private int TakeReveals(ref int remaining, int filled, int step, double stepSize, bool compat, ulong revealSeed, ulong stepStream)
    {
        int kept = 0, taken = 0;
        for (int i = 0; i < remaining; i++)
        {
            int row = _pending[i];
            double time = TeacherTimeGrid.Time(_times[row / _tokens], stepSize, step, _steps, compat);
            double probability = TeacherTimeGrid.RevealProbability(time, stepSize);
            if (probability >= 1 || Philox.UniformDouble(revealSeed, stepStream, row) < probability)
                _hostRows[filled + taken++] = row;
            else
                _pending[kept++] = row;
        }
        remaining = kept;
        return taken;
    }

    /// <summary>Moves every pending position to the target order (the last step); returns how many.</summary>
    private int TakeAll(ref int remaining, int filled)
    {
        int count = remaining;
        _pending.AsSpan(0, count).CopyTo(_hostRows.AsSpan(filled));
        remaining = 0;
        return count;
    }

    /// <summary>
    /// Draws the chunk's revealed tokens from the teacher's log-probs (MASK excluded), counting rows from the step's first
    /// target, and writes them into the device's state (MASK where nothing could be drawn).
    /// </summary>
    private void Reveal(Tensor<float> logProbs, Tensor<int> rows, int first, int count)
    {
        Tensor<int> drawn = _draws.Slice(0, count);
        var parameters = new SamplingParameters(_drawSeed, StepStream(_stream, _step), FirstRow: first - _stepStart);
        var kernels = logProbs.Device.Kernels;
        kernels.SampleCategorical(logProbs, drawn, count, Head.Width, Head.MaskIndex, parameters);
        kernels.ScatterIds(drawn, rows, _deviceIds, count, _ids.Length, Head.MaskIndex, Head.MaskIndex);
        _idsCurrent = false;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _deviceIds.Buffer.Dispose();
        _draws.Buffer.Dispose();
        Rows.Buffer.Dispose();
        LogProbs.Buffer.Dispose();
    }
}
