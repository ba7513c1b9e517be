using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Distributed;

namespace IlgpuDiffusion.Training;

/// <summary>The optimizer-step side of a run that <see cref="TrainingLoop"/> drives (MDLM, autoregressive, distillation).</summary>
internal interface ITrainingSteps
{
    /// <summary>The run's optimizer settings.</summary>
    TrainingConfig Config { get; }

    /// <summary>The device the model runs on, synchronized before each timing.</summary>
    Device Device { get; }

    /// <summary>The ranks sharing each step; only rank 0 logs, validates and writes checkpoints.</summary>
    DataParallelGroup Group { get; }

    /// <summary>Optimizer steps done.</summary>
    long Step { get; }

    /// <summary>Tokens (or predictions) per optimizer step, for throughput.</summary>
    long TokensPerStep { get; }

    /// <summary>Model FLOPs per token of a step, for MFU.</summary>
    double FlopsPerToken { get; }

    /// <summary>Takes one optimizer step.</summary>
    StepResult TrainStep();

    /// <summary>Writes a checkpoint of the run atomically to <paramref name="path"/>.</summary>
    void SaveCheckpoint(string path);

    /// <summary>
    /// Writes the run's EMA weights with its configs and state (no optimizer state) atomically to <paramref name="path"/>.
    /// </summary>
    void SaveWeights(string path);
}
