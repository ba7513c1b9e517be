using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Training;

/// <summary>
/// The run loop around a trainer's optimizer steps: logs the mean loss, gradient norm, lr, ms/step, tokens/s (and MFU
/// when <see cref="TrainingConfig.PeakFlops"/> is set) every <see cref="TrainingConfig.LogInterval"/> steps and at the
/// end, validates every <see cref="TrainingConfig.ValidationInterval"/> steps and at the end, and writes checkpoints
/// as the <see cref="RunOptions"/> ask. Validation and checkpoint time is left out of the step timings.
/// </summary>
internal static class TrainingLoop
{
    /// <summary>Trains <paramref name="trainer"/> until its step reaches <paramref name="untilStep"/>.</summary>
    /// <param name="device">The model's device, synchronized before each timing.</param>
    /// <param name="flopsPerToken">Training FLOPs per token, for MFU.</param>
    /// <param name="validate">Evaluates the run's weights at a step and returns the metrics (no validation when null).</param>
    public static void Run(ITrainingSteps trainer, long untilStep, Device device, double flopsPerToken, RunOptions options,
        Func<long, ValidationMetrics>? validate)
    {
        MetricsLog? log = options.Log;
        ArgumentOutOfRangeException.ThrowIfLessThan(untilStep, trainer.Step);
        TrainingConfig config = trainer.Config;
        TrainingProgress.Run(options.ShowProgress, trainer.Step, untilStep, progress =>
        {
            var timer = new StepTimer(trainer.Step);
            double lossSum = 0;
            while (trainer.Step < untilStep)
            {
                StepResult result = trainer.TrainStep();
                long step = trainer.Step;
                lossSum += result.Loss;
                bool last = step == untilStep;
                if (step % config.LogInterval == 0 || last)
                {
                    device.Synchronize();
                    var (steps, seconds) = timer.Lap(step);
                    double tokensPerSecond = trainer.TokensPerStep * steps / seconds;
                    double? mfu = config.PeakFlops > 0 ? flopsPerToken * tokensPerSecond / config.PeakFlops : null;
                    log?.Write(new TrainingMetrics(step, lossSum / steps, result.GradientNorm, result.LearningRate,
                        1000 * seconds / steps, tokensPerSecond, mfu));
                    progress.Report(step, lossSum / steps, tokensPerSecond);
                    lossSum = 0;
                }
                timer.Pause();
                if (validate is not null && (last || config.ValidationInterval > 0 && step % config.ValidationInterval == 0))
                {
                    ValidationMetrics metrics = validate(step);
                    log?.Write(metrics);
                }
                if (options.CheckpointDue(step, last) is { } path) trainer.SaveCheckpoint(path);
                timer.Resume();
            }
        });
    }
}
