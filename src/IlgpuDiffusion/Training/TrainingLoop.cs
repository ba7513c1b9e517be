namespace IlgpuDiffusion.Training;

/// <summary>
/// The one run loop around every trainer's optimizer steps (MDLM, autoregressive, SDTT distillation): logs the mean loss,
/// gradient norm, lr, ms/step, tokens/s (and MFU when <see cref="TrainingConfig.PeakFlops"/> is set) every
/// <see cref="TrainingConfig.LogInterval"/> steps and at the end, validates every <see cref="TrainingConfig.ValidationInterval"/>
/// steps and at the end, runs the trainer's <see cref="TrainingLoopHooks"/>, writes checkpoints as the
/// <see cref="RunOptions"/> ask and reports progress after every step. Validation, hook and checkpoint time is left out of
/// the step timings and of a running <see cref="Compute.KernelProfile"/> of the device. Cancellation is honoured between
/// steps: a step-numbered resume checkpoint (when the options name a checkpoint) is written first, so a cancelled run loses nothing.
/// In a data-parallel group only rank 0 logs, validates and writes checkpoints; every rank steps and reports progress, and
/// the cancellation token must then be cancelled on every rank alike or on none.
/// </summary>
internal static class TrainingLoop
{
    private const string DefaultStage = "Training";

    /// <summary>Trains <paramref name="trainer"/> until its step reaches <paramref name="untilStep"/>.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the resume
    /// checkpoint holds the last step.</exception>
    public static void Run(ITrainingSteps trainer, long untilStep, RunOptions options, TrainingLoopHooks hooks,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(untilStep, trainer.Step);
        TrainingConfig config = trainer.Config;
        bool root = trainer.Group.IsRoot;
        if (!root) (options, hooks) = (options.ForOtherRanks(), hooks with { Validate = null });
        long firstStep = trainer.Step, savedStep = firstStep;
        var timer = new StepTimer(firstStep);
        TimeSpan sumTime = trainer.Group.SumTime;
        double lossSum = 0, loss = double.NaN, tokensPerSecond = double.NaN;
        while (trainer.Step < untilStep)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                if (options.CheckpointPath is { } path && trainer.Step != savedStep)
                    options.Save(trainer.SaveCheckpoint, StepCheckpoints.PathOf(path, trainer.Step), trainer.Step);
                cancellationToken.ThrowIfCancellationRequested();
            }
            StepResult result = trainer.TrainStep();
            long step = result.Step;
            lossSum += result.Loss;
            bool last = step == untilStep;
            TrainingMetrics? metrics = null;
            if (step % config.LogInterval == 0 || last || hooks.EndsInterval?.Invoke(step) == true)
            {
                trainer.Device.Synchronize();
                var (steps, seconds) = timer.Lap(step);
                loss = lossSum / steps;
                tokensPerSecond = trainer.TokensPerStep * steps / seconds;
                double? mfu = config.PeakFlops > 0 ? trainer.FlopsPerToken * tokensPerSecond / config.PeakFlops : null;
                metrics = new TrainingMetrics(step, loss, result.GradientNorm, result.LearningRate, 1000 * seconds / steps,
                    tokensPerSecond, mfu)
                {
                    SumMillisecondsPerStep = trainer.Group.Size > 1 ? (trainer.Group.SumTime - sumTime).TotalMilliseconds / steps : null,
                };
                sumTime = trainer.Group.SumTime;
                lossSum = 0;
            }
            timer.Pause();
            trainer.Device.PauseProfile();
            if (metrics is not null) options.Log?.Write(hooks.Describe is null ? metrics : hooks.Describe(metrics));
            if (hooks.Validate is not null && (last || config.ValidationInterval > 0 && step % config.ValidationInterval == 0))
            {
                ValidationMetrics validation = hooks.Validate(step);
                options.Log?.Write(validation);
            }
            hooks.AfterStep?.Invoke(result);
            if (options.SaveDue(trainer, step, last)) savedStep = step;
            trainer.Device.ResumeProfile();
            timer.Resume();
            options.Progress?.Report(new TrainingProgress(step, firstStep, untilStep, loss, tokensPerSecond,
                hooks.Stage?.Invoke(step) ?? DefaultStage));
        }
    }
}
