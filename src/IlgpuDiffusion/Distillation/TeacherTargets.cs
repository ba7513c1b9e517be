using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// SDTT's teacher targets (docs/algorithms.md §4.3, paper Algorithm 1) for the masked positions of a corrupted batch z_t. The
/// teacher takes K ancestral steps of size Δ from z_t: at step i (time t_i from <see cref="TeacherTimeGrid"/>) each
/// still-masked position is revealed with probability Δ/t_i and its token drawn from the teacher's SUBS distribution
/// on the current state; a position revealed at step i takes the teacher's log-probs of step i as its target, and
/// positions still masked at the last step take that step's. The reveal decisions do not depend on the teacher's
/// output (drawing from the ancestral posterior is the same as deciding the reveal first, then drawing the token),
/// so each step's output head runs only on the rows whose targets it fixes, and every masked row is computed once.
/// <para>
/// Targets are stored in the order their steps fixed them (<see cref="Rows"/>), which is the order the student's
/// head must use: target row i belongs to position <see cref="Rows"/>[i]. Reveals and draws come from Philox keys
/// and a stream (the micro-batch counter), so the same inputs always give the same targets. Buffers are sized once
/// for B·L rows; <see cref="Build"/> allocates nothing.
/// </para>
/// </summary>
internal sealed class TeacherTargets : IDisposable
{
    private readonly int _tokens, _steps, _maskId;
    private readonly int[] _ids, _hostRows, _pending, _hostDraws, _revealed;
    private readonly float[] _sigma;
    private readonly Tensor<int> _deviceIds, _draws;

    /// <summary>
    /// Allocates buffers for batches of <paramref name="batch"/> × <paramref name="tokens"/> ids and
    /// <paramref name="classes"/> classes (MASK last).
    /// </summary>
    /// <param name="teacherSteps">K, the ancestral teacher steps per target.</param>
    public TeacherTargets(Device device, int batch, int tokens, int classes, int teacherSteps)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(teacherSteps, 1);
        int rows = TokenRows.Of(batch, tokens);
        if ((long)rows * classes > int.MaxValue)
            throw new ArgumentException($"Targets for {rows} rows of {classes} classes exceed {int.MaxValue} floats; " +
                "use smaller batches (or gradient accumulation).");
        _tokens = tokens;
        _steps = teacherSteps;
        _maskId = classes - 1;
        Classes = classes;
        _ids = new int[rows];
        _hostRows = new int[rows];
        _pending = new int[rows];
        _hostDraws = new int[rows];
        _revealed = new int[teacherSteps];
        _sigma = new float[batch];
        _deviceIds = device.AllocateTensor<int>(new Shape(batch, tokens));
        _draws = device.AllocateTensor<int>(new Shape(rows));
        Rows = device.AllocateTensor<int>(new Shape(rows));
        LogProbs = device.AllocateTensor<float>(new Shape(rows, classes));
    }

    /// <summary>V: classes per row, MASK last.</summary>
    public int Classes { get; }

    /// <summary>Masked positions of the last <see cref="Build"/>: how many target rows are valid.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// The masked rows b·L + l of z_t in target order (grouped by the teacher step that fixed them). <c>[Count]</c> valid of <c>[B·L]</c>
    /// </summary>
    public Tensor<int> Rows { get; }

    /// <summary>The teacher's log-probs, row i for position <see cref="Rows"/>[i]. <c>[Count, V]</c> valid of <c>[B·L, V]</c></summary>
    public Tensor<float> LogProbs { get; }

    /// <summary>The host copy of <see cref="Rows"/> (first <see cref="Count"/> valid).</summary>
    public ReadOnlySpan<int> HostRows => _hostRows.AsSpan(0, Count);

    /// <summary>
    /// How many targets each teacher step fixed in the last <see cref="Build"/> (the last step: all still masked). <c>[K]</c>
    /// </summary>
    public ReadOnlySpan<int> TargetsPerStep => _revealed;

    /// <summary>
    /// The state after the last <see cref="Build"/>'s teacher steps (z_t plus the tokens drawn before the last step). <c>[B·L]</c>
    /// </summary>
    public ReadOnlySpan<int> FinalIds => _ids;

    /// <summary>Builds the targets of <paramref name="batch"/> (its times, noisy ids and masked rows).</summary>
    /// <param name="teacher">The frozen teacher.</param>
    /// <param name="stepSize">Δ: the teacher's step size.</param>
    /// <param name="compatReleasedCode">Use the released code's time grid.</param>
    /// <param name="revealSeed">Philox key of the reveal decisions.</param>
    /// <param name="drawSeed">Philox key of the teacher's token draws.</param>
    /// <param name="stream">Counter of this batch (e.g. the micro-batch number); streams stream·K + i are used.</param>
    /// <exception cref="ArgumentException">The batch or teacher does not match these buffers.</exception>
    public void Build(ITeacher teacher, CorruptedBatch batch, double stepSize, bool compatReleasedCode,
        ulong revealSeed, ulong drawSeed, ulong stream)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Elements != _ids.Length || batch.SequenceLength != _tokens)
            throw new ArgumentException($"The targets are sized for {_ids.Length / _tokens} × {_tokens} ids; " +
                $"the batch is {batch.BatchSize} × {batch.SequenceLength}.", nameof(batch));
        if (teacher.Classes != Classes)
            throw new ArgumentException($"The teacher has {teacher.Classes} classes; the targets are sized for {Classes}.",
                nameof(teacher));
        batch.NoisyIds.CopyTo(_ids, 0);
        int remaining = batch.MaskedCount;
        batch.MaskedRows.AsSpan(0, remaining).CopyTo(_pending);
        int filled = 0;
        for (int step = 0; step < _steps; step++)
        {
            bool last = step == _steps - 1;
            ulong stepStream = stream * (ulong)_steps + (ulong)step;
            int count = last
                ? TakeAll(ref remaining, filled)
                : TakeReveals(batch, ref remaining, filled, step, stepSize, compatReleasedCode, revealSeed, stepStream);
            _revealed[step] = count;
            if (count == 0) continue; // nothing of this step's output is used: skip its forward pass
            for (int b = 0; b < _sigma.Length; b++)
                _sigma[b] = (float)NoiseSchedule.LogLinear.TotalNoise(
                    TeacherTimeGrid.Time(batch.Times[b], stepSize, step, _steps, compatReleasedCode));
            Tensor<int> rows = Rows.Slice(filled, count);
            Tensor<float> logProbs = LogProbs.Slice(filled, count);
            rows.CopyFrom(_hostRows.AsSpan(filled, count));
            _deviceIds.CopyFrom(_ids);
            teacher.LogProbs(_deviceIds, _sigma, rows, count, logProbs);
            if (!last) Reveal(logProbs, filled, count, drawSeed, stepStream);
            filled += count;
        }
        Count = filled;
    }

    /// <summary>
    /// Moves the positions revealed at <paramref name="step"/> from the pending list to the target order; returns how many.
    /// </summary>
    private int TakeReveals(CorruptedBatch batch, ref int remaining, int filled, int step, double stepSize, bool compat,
        ulong revealSeed, ulong stepStream)
    {
        int kept = 0, taken = 0;
        for (int i = 0; i < remaining; i++)
        {
            int row = _pending[i];
            double time = TeacherTimeGrid.Time(batch.Times[row / _tokens], stepSize, step, _steps, compat);
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

    /// <summary>Draws the revealed tokens from the teacher's log-probs (MASK excluded) and writes them into the state.</summary>
    private void Reveal(Tensor<float> logProbs, int filled, int count, ulong drawSeed, ulong stepStream)
    {
        Tensor<int> drawn = _draws.Slice(0, count);
        logProbs.Device.Kernels.SampleCategorical(logProbs, drawn, count, Classes, _maskId, new SamplingParameters(drawSeed, stepStream));
        drawn.CopyTo(_hostDraws.AsSpan(0, count));
        for (int i = 0; i < count; i++) _ids[_hostRows[filled + i]] = _hostDraws[i];
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
