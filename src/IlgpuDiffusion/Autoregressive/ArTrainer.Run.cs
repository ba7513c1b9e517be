using System.Diagnostics;
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
        ArgumentOutOfRangeException.ThrowIfLessThan(untilStep, Step);
        double flopsPerToken = Model.Config.TrainingFlopsPerToken(_trainData.SequenceLength);
        TrainingProgress.Run(options.ShowProgress, Step, untilStep, progress =>
        {
            var clock = Stopwatch.StartNew();
            TimeSpan excluded = TimeSpan.Zero;
            long intervalStart = Step;
            double lossSum = 0;
            while (Step < untilStep)
            {
                StepResult result = TrainStep();
                lossSum += result.Loss;
                bool last = Step == untilStep;
                if (Step % Config.LogInterval == 0 || last)
                {
                    Model.Device.Synchronize();
                    long steps = Step - intervalStart;
                    double seconds = Math.Max((clock.Elapsed - excluded).TotalSeconds, 1e-9);
                    double tokensPerSecond = TokensPerStep * steps / seconds;
                    double? mfu = Config.PeakFlops > 0 ? flopsPerToken * tokensPerSecond / Config.PeakFlops : null;
                    options.Log?.Write(new TrainingMetrics(Step, lossSum / steps, result.GradientNorm, result.LearningRate,
                        1000 * seconds / steps, tokensPerSecond, mfu));
                    progress.Report(Step, lossSum / steps, tokensPerSecond);
                    lossSum = 0;
                    intervalStart = Step;
                    excluded = TimeSpan.Zero;
                    clock.Restart();
                }
                long pausedAt = Stopwatch.GetTimestamp();
                if (options.Validation is { } validation && (last || Config.ValidationInterval > 0 && Step % Config.ValidationInterval == 0))
                {
                    LastValidation = validation.Evaluate(Ema.Weights, Step);
                    options.Log?.Write(LastValidation);
                }
                if (options.CheckpointPath is { } path && (last || options.CheckpointInterval > 0 && Step % options.CheckpointInterval == 0))
                    SaveCheckpoint(path);
                excluded += Stopwatch.GetElapsedTime(pausedAt);
            }
        });
    }
}
