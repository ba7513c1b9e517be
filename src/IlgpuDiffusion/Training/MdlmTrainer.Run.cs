using System.Diagnostics;

namespace IlgpuDiffusion.Training;

public sealed partial class MdlmTrainer
{
    /// <summary>The latest validation <see cref="Run"/> made (null before the first).</summary>
    public ValidationMetrics? LastValidation { get; private set; }

    /// <summary>
    /// Trains until <see cref="Step"/> reaches <paramref name="untilStep"/>: logs the mean loss, gradient norm, lr,
    /// ms/step, tokens/s (and MFU when <see cref="TrainingConfig.PeakFlops"/> is set) every
    /// <see cref="TrainingConfig.LogInterval"/> steps, validates the EMA weights every
    /// <see cref="TrainingConfig.ValidationInterval"/> steps, and writes checkpoints as <paramref name="options"/> asks.
    /// Validation and checkpoint time is left out of the step timings.
    /// </summary>
    public void Run(long untilStep, TrainingRunOptions? options = null)
    {
        options ??= new TrainingRunOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(untilStep, Step);
        double flopsPerToken = TrainingFlops.PerToken(Model.Config, trainData.SequenceLength);
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
                bool validate = options.Validation is not null && (last || Config.ValidationInterval > 0 && Step % Config.ValidationInterval == 0);
                if (validate)
                {
                    LastValidation = options.Validation!.Evaluate(Ema.Weights, Step);
                    options.Log?.Write(LastValidation);
                }
                bool save = options.CheckpointPath is not null && (last || options.CheckpointInterval > 0 && Step % options.CheckpointInterval == 0);
                if (save) SaveCheckpoint(options.CheckpointPath!);
                excluded += Stopwatch.GetElapsedTime(pausedAt);
            }
        });
    }
}
