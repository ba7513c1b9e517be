using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Training;

/// <summary>
/// What every trainer (MDLM, autoregressive, SDTT distillation) keeps around its model's forward and backward: the
/// data order (<see cref="Batcher"/>), the micro-batch counter that seeds the random streams, the optimizer step
/// counter, the <see cref="LrSchedule"/>, <see cref="ClippedAdamW"/> and the <see cref="Ema"/> of the weights. Its
/// counters are the <see cref="TrainingState"/> a checkpoint stores, so <see cref="Restore"/> continues a run bit for
/// bit. Allocates nothing per step.
/// </summary>
internal sealed class OptimizerRun : IDisposable
{
    private readonly TokenShardSet _data;
    private readonly TrainingConfig _config;
    private readonly LrSchedule _schedule;
    private Batcher _batcher;
    private long _microBatches;
    private long _step;

    /// <summary>
    /// Prepares optimizer steps over <paramref name="parameters"/> (arena-shaped, with <paramref name="gradients"/>
    /// alike) on <paramref name="data"/>.
    /// </summary>
    public OptimizerRun(TokenShardSet data, Tensor<float> parameters, Tensor<float> gradients, TrainingConfig config)
    {
        _data = data;
        _config = config;
        _batcher = new Batcher(data, config.BatchSize, config.Seed);
        Optimizer = new ClippedAdamW(parameters, gradients, config);
        Ema = new Ema(parameters, config.EmaDecay);
        _schedule = new LrSchedule(config);
    }

    /// <summary>The optimizer (its moments are checkpointed).</summary>
    public ClippedAdamW Optimizer { get; }

    /// <summary>The moving average of the weights.</summary>
    public Ema Ema { get; }

    /// <summary>Optimizer steps done (Adam's own count restarts when a distillation round resets it; this one does not).</summary>
    public long Step => _step;

    /// <summary>Everything besides tensors needed to continue this run exactly.</summary>
    public TrainingState State => new(Step, _microBatches, Ema.Updates, _batcher.Position, _config.Seed);

    /// <summary>The learning rate of the next optimizer step.</summary>
    public double LearningRate => _schedule.At(Step);

    /// <summary>Fills <paramref name="ids"/> with the next micro-batch; returns its index, which keys its random streams.</summary>
    public ulong NextMicroBatch(Span<int> ids)
    {
        _batcher.NextBatch(ids);
        return (ulong)_microBatches++;
    }

    /// <summary>Clips, takes the AdamW step at <paramref name="learningRate"/>, updates the EMA and reports the step.</summary>
    /// <param name="lossSum">The sum of the micro-batches' mean losses.</param>
    public StepResult FinishStep(double lossSum, double learningRate)
    {
        double norm = Optimizer.Step(learningRate);
        Ema.Update();
        _step++;
        return new StepResult(_step, lossSum / _config.GradientAccumulationSteps, norm, learningRate);
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
        Optimizer.Dispose();
        Ema.Dispose();
    }
}
