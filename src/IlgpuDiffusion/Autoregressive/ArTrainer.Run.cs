using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Autoregressive;

/// <summary>What <see cref="ArTrainer.Run"/> does around the optimizer steps.</summary>
public sealed record ArTrainingRunOptions
{
    /// <summary>Where metrics go (none when null).</summary>
    public MetricsLog? Log { get; init; }

    /// <summary>Validation run every <see cref="TrainingConfig.ValidationInterval"/> steps and at the end (none when null).</summary>
    public ArValidation? Validation { get; init; }

    /// <summary>Checkpoint file, rewritten atomically every <see cref="CheckpointInterval"/> steps and at the end (none when null).</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Optimizer steps between checkpoints (0: only at the end).</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>Whether to show a progress bar on an interactive console.</summary>
    public bool ShowProgress { get; init; } = true;
}

public sealed partial class ArTrainer
{
    /// <summary>The latest validation <see cref="Run"/> made (null before the first).</summary>
    public ValidationMetrics? LastValidation { get; private set; }

    /// <summary>
    /// Trains until <see cref="Step"/> reaches <paramref name="untilStep"/>: logs the mean loss, gradient norm, lr, ms/step,
    /// tokens/s (and MFU when <see cref="TrainingConfig.PeakFlops"/> is set) every <see cref="TrainingConfig.LogInterval"/>
    /// steps, validates the EMA weights every <see cref="TrainingConfig.ValidationInterval"/> steps and writes checkpoints
    /// as <paramref name="options"/> asks. Validation and checkpoint time is left out of the step timings.
    /// </summary>
    public void Run(long untilStep, ArTrainingRunOptions? options = null)
    {
        options ??= new ArTrainingRunOptions();
        var validation = options.Validation;
        TrainingLoop.Run(this, untilStep, Model.Device, Model.Config.TrainingFlopsPerToken(_trainData.SequenceLength), options.Log,
            validation is null ? null : step => LastValidation = validation.Evaluate(Ema.Weights, step),
            options.CheckpointPath, options.CheckpointInterval, options.ShowProgress);
    }
}
