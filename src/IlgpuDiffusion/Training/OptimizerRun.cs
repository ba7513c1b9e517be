using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Distributed;

namespace IlgpuDiffusion.Training;

/// <summary>
/// What every trainer (MDLM, autoregressive, SDTT distillation) keeps around its model's forward and backward: the
/// data order (<see cref="Batcher"/>), the micro-batch counter that seeds the random streams, the optimizer step
/// counter, the <see cref="LrSchedule"/>, <see cref="ClippedAdamW"/> and the <see cref="Ema"/> of the weights. Its
/// counters are the <see cref="TrainingState"/> a checkpoint stores, so <see cref="Restore"/> continues a run bit for
/// bit. In a <see cref="DataParallelGroup"/> of R ranks each rank runs a contiguous block of A/R of a step's A micro-batches
/// and skips the others' (data position and micro-batch counter stay those of the whole step, so every random stream and
/// checkpoint is the one-process run's); <see cref="FinishStep"/> then adds the ranks' gradients and losses before clipping.
/// Allocates nothing per step.
/// </summary>
internal sealed class OptimizerRun : IDisposable
{
    private readonly TokenShardSet _data;
    private readonly TrainingConfig _config;
    private readonly LrSchedule _schedule;
    private readonly Tensor<float> _parameters, _sumOfSquares;
    private readonly float[] _hostSumOfSquares = new float[1];
    private readonly DataParallelGroup _group;
    private readonly OverlappedGradientSum _sum;

    /// <summary>
    /// What a step queued for the host to read at its end (<see cref="FinishStep"/>): per local micro-batch up to
    /// <see cref="_lossRows"/> per-row losses, then ‖g‖². <c>[LocalMicroBatches·lossRows + 1]</c>
    /// </summary>
    private readonly Tensor<float> _readout;
    private readonly float[] _hostReadout;
    private readonly int _lossRows;
    private readonly int[] _queuedRows;
    private readonly double[] _lossDivisors;
    private Batcher _batcher;
    private int _localMicroBatch;
    private long _microBatches;
    private long _step;

    /// <summary>
    /// Prepares optimizer steps over <paramref name="parameters"/> (arena-shaped, with <paramref name="gradients"/>
    /// alike) on <paramref name="data"/>, as one rank of <paramref name="group"/>; the model's blocks occupy
    /// <paramref name="blocks"/> of the gradient arena (offset and length, block 0 first), whose sums start as soon as the
    /// last micro-batch's backward reports them to <see cref="BlockGradientsFinished"/>. The trainer queues a micro-batch's
    /// per-row losses (<see cref="LossRows"/>), at most <paramref name="lossRows"/> of them.
    /// </summary>
    /// <exception cref="ArgumentException">The step's micro-batches cannot be shared evenly by the group's ranks.</exception>
    public OptimizerRun(TokenShardSet data, Tensor<float> parameters, Tensor<float> gradients, TrainingConfig config,
        DataParallelGroup group, IReadOnlyList<(long Offset, long Length)> blocks, int lossRows)
    {
        int accumulation = config.GradientAccumulationSteps;
        if (accumulation % group.Size != 0)
            throw new ArgumentException($"A step of {accumulation} micro-batch{(accumulation == 1 ? "" : "es")} (gradient " +
                $"accumulation) cannot be shared by {group.Size} ranks: every rank runs the same number. Use an accumulation that " +
                $"is a multiple of {group.Size}, e.g. {group.Size * Math.Max(1, accumulation / group.Size)} with the batch size " +
                $"divided accordingly, so that batch × accumulation stays the global batch.", nameof(config));
        _data = data;
        _config = config;
        _group = group;
        LocalMicroBatches = accumulation / group.Size;
        group.PrepareSums(gradients.Device);
        _sum = new OverlappedGradientSum(group, gradients, blocks);
        _batcher = new Batcher(data, config.BatchSize, config.Seed);
        Optimizer = new ClippedAdamW(parameters, gradients, config);
        Ema = new Ema(parameters, config.EmaDecay);
        _schedule = new LrSchedule(config);
        _parameters = parameters;
        _sumOfSquares = parameters.Device.AllocateTensor<float>(new Shape(1));
        _lossRows = lossRows;
        _queuedRows = new int[LocalMicroBatches];
        _lossDivisors = new double[LocalMicroBatches];
        _readout = parameters.Device.AllocateTensor<float>(new Shape(checked(LocalMicroBatches * lossRows + 1)));
        _hostReadout = new float[_readout.Length];
    }

    /// <summary>The optimizer (its moments are checkpointed).</summary>
    public ClippedAdamW Optimizer { get; }

    /// <summary>The moving average of the weights.</summary>
    public Ema Ema { get; }

    /// <summary>Optimizer steps done (Adam's own count restarts when a distillation round resets it; this one does not).</summary>
    public long Step => _step;

    /// <summary>Everything besides tensors needed to continue this run exactly.</summary>
    public TrainingState State => new(Step, _microBatches, Ema.Updates, _batcher.Position, _config.Seed);

    /// <summary>The ranks sharing each step.</summary>
    public DataParallelGroup Group => _group;

    /// <summary>Micro-batches this rank runs per optimizer step: accumulation / ranks.</summary>
    public int LocalMicroBatches { get; }

    /// <summary>Block <paramref name="layer"/>'s gradients are final for this step: its sum over the ranks may start.</summary>
    public void BlockGradientsFinished(int layer) => _sum.BlockFinished(layer);

    /// <summary>The learning rate of the next optimizer step.</summary>
    public double LearningRate => _schedule.At(Step);

    /// <summary>
    /// Fills <paramref name="ids"/> with this rank's next micro-batch (one of <see cref="LocalMicroBatches"/> per step); returns
    /// its index in the whole run, which keys its random streams.
    /// </summary>
    public ulong NextMicroBatch(Span<int> ids)
    {
        if (_localMicroBatch++ == 0) SkipMicroBatches(_group.Rank * LocalMicroBatches);
        if (_localMicroBatch == LocalMicroBatches) _sum.Arm();
        _batcher.NextBatch(ids);
        return (ulong)_microBatches++;
    }

    /// <summary>
    /// Where the current micro-batch (the last <see cref="NextMicroBatch"/>) writes <paramref name="rows"/> more per-row
    /// losses for <see cref="FinishStep"/> to read with the step's norm: after its earlier ones, up to the rows given
    /// at construction. The micro-batch's loss is the sum of its rows over <paramref name="divisor"/>. <c>[rows]</c>
    /// </summary>
    public Tensor<float> LossRows(int rows, double divisor)
    {
        int microBatch = _localMicroBatch - 1;
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rows, _lossRows - _queuedRows[microBatch]);
        var slice = _readout.Slice(microBatch * _lossRows + _queuedRows[microBatch], rows);
        _queuedRows[microBatch] += rows;
        _lossDivisors[microBatch] = divisor;
        return slice;
    }

    /// <summary>
    /// Ends the step: adds the ranks' gradients, queues the clipped AdamW step at <paramref name="learningRate"/> and the
    /// EMA update, then reads the micro-batches' per-row losses (queued through <see cref="LossRows"/>) and the gradient
    /// norm in one copy, the step's only wait for the device; adds the ranks' losses and reports the step. Each
    /// micro-batch's loss is its rows' sum (in double, in row order) over its divisor; a micro-batch without rows adds 0.
    /// </summary>
    /// <exception cref="InvalidOperationException">The gradient norm is not finite; the weights were not updated.</exception>
    public StepResult FinishStep(double learningRate)
    {
        EndMicroBatches();
        Optimizer.QueueStep(learningRate, Ema);
        _parameters.Device.Kernels.Copy(Optimizer.SumOfSquares, _readout.Slice(_hostReadout.Length - 1, 1), 1);
        _readout.CopyTo(_hostReadout);
        double lossSum = 0;
        for (int microBatch = 0; microBatch < LocalMicroBatches; microBatch++)
        {
            if (_queuedRows[microBatch] == 0) continue;
            double sum = 0;
            foreach (float loss in _hostReadout.AsSpan(microBatch * _lossRows, _queuedRows[microBatch])) sum += loss;
            lossSum += sum / _lossDivisors[microBatch];
            _queuedRows[microBatch] = 0;
        }
        lossSum = _group.SumInRankOrder(lossSum);
        double norm = Optimizer.CheckedNorm(_hostReadout[^1]);
        _step++;
        return new StepResult(_step, lossSum / _config.GradientAccumulationSteps, norm, learningRate);
    }

    /// <summary>Skips the other ranks' micro-batches of the step and waits for the sum of the gradients over the ranks.</summary>
    private void EndMicroBatches()
    {
        SkipMicroBatches((_group.Size - 1 - _group.Rank) * LocalMicroBatches);
        _localMicroBatch = 0;
        _sum.Finish(); // first: its thread may still be in a block's sum, which every rank must finish before the next one
    }

    private void SkipMicroBatches(int count)
    {
        _batcher.Skip(count);
        _microBatches += count;
    }

    /// <summary>
    /// Throws when the weights or their EMA hold a NaN or an infinity, or values whose squares overflow fp32: an update
    /// that overflowed leaves a finite gradient norm behind it but weights no run can continue from. The trainers call it
    /// before every checkpoint, so the last good checkpoint is never replaced by an unusable one.
    /// </summary>
    /// <exception cref="InvalidOperationException">The weights diverged.</exception>
    public void EnsureFinite()
    {
        EnsureFinite(_parameters, "weights");
        EnsureFinite(Ema.Weights, "EMA weights");
    }

    private void EnsureFinite(Tensor<float> weights, string what)
    {
        weights.Device.Kernels.SumOfSquares(weights, _sumOfSquares, checked((int)weights.Length));
        _sumOfSquares.CopyTo(_hostSumOfSquares);
        if (!float.IsFinite(_hostSumOfSquares[0]))
            throw new InvalidOperationException($"The {what} are not finite after optimizer step {Step}: training diverged. " +
                "No checkpoint was written, so the last one written is intact; resume from it with a lower learning rate " +
                "or a longer warm-up.");
    }

    /// <summary>
    /// Restores the counters and data position of a checkpoint whose data position is <paramref name="dataPosition"/>:
    /// the position is checked against this run's data first, then <paramref name="loadTensors"/> reads the checkpoint's
    /// tensors (weights, EMA, moments) and returns its state.
    /// </summary>
    /// <param name="adamSteps">Adam's step count when it differs from the optimizer step (after a reset), else null.</param>
    public TrainingState Restore(BatcherPosition dataPosition, Func<TrainingState> loadTensors, int? adamSteps = null)
    {
        var restored = new Batcher(_data, _config.BatchSize, _config.Seed, dataPosition);
        TrainingState state = loadTensors();
        _batcher = restored;
        _step = state.Step;
        Optimizer.RestoreSteps(adamSteps ?? checked((int)state.Step));
        Ema.RestoreUpdates(state.EmaUpdates);
        _microBatches = state.MicroBatches;
        return state;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _sum.Dispose();
        Optimizer.Dispose();
        Ema.Dispose();
        _sumOfSquares.Buffer.Dispose();
        _readout.Buffer.Dispose();
    }
}
