using System.Globalization;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

public sealed partial class SdttDistiller
{
    /// <summary>The file name of round <paramref name="round"/>'s (from 0) checkpoint: <c>round-{r+1}-{N}-steps.safetensors</c>.</summary>
    public string RoundCheckpointName(int round) => string.Create(CultureInfo.InvariantCulture,
        $"round-{round + 1}-{Rounds.StudentSamplingSteps(round)}-steps.safetensors");

    /// <summary>
    /// Distills until <see cref="Step"/> reaches <paramref name="untilStep"/> (every round when null): logs the mean
    /// loss, gradient norm, lr, round, Δ, ms/step and tokens/s every <see cref="TrainingConfig.LogInterval"/> steps;
    /// at each round's end writes the round's checkpoint, validates the EMA student and logs the round; writes the
    /// resume checkpoint as <paramref name="options"/> asks. Checkpoint and validation time is left out of the timings.
    /// </summary>
    public void Run(long? untilStep = null, DistillationRunOptions? options = null)
    {
        options ??= new DistillationRunOptions();
        long until = untilStep ?? Rounds.TotalSteps;
        if (until < Step || until > Rounds.TotalSteps)
            throw new ArgumentOutOfRangeException(nameof(untilStep), $"Distill until a step in [{Step}, {Rounds.TotalSteps}]; got {until}.");
        TrainingProgress.Run(options.ShowProgress, Step, until, progress =>
        {
            var timer = new StepTimer(Step);
            long roundStart = Step;
            double lossSum = 0, roundLossSum = 0;
            while (Step < until)
            {
                DistillationStepResult result = TrainStep();
                lossSum += result.Loss;
                roundLossSum += result.Loss;
                bool last = Step == until;
                if (Step % Config.Training.LogInterval == 0 || last || result.RoundEnded)
                {
                    Student.Device.Synchronize();
                    var (steps, seconds) = timer.Lap(Step);
                    double tokensPerSecond = TokensPerStep * steps / seconds;
                    options.Log?.Write(new DistillationMetrics(Step, result.Round, Rounds.TeacherStepSize(result.Round), lossSum / steps,
                        result.GradientNorm, result.LearningRate, 1000 * seconds / steps, tokensPerSecond));
                    progress.Report(Step, lossSum / steps, tokensPerSecond, $"Round {result.Round + 1}/{Rounds.Count}");
                    lossSum = 0;
                }
                timer.Pause();
                if (result.RoundEnded)
                {
                    string? path = options.RoundCheckpointDirectory is { } folder ? Path.Combine(folder, RoundCheckpointName(result.Round)) : null;
                    if (path is not null) SaveCheckpoint(path);
                    ValidationMetrics? validation = options.Validation?.Evaluate(Ema.Weights, Step);
                    options.Log?.Write(new DistillationRoundMetrics(Step, result.Round, Rounds.StudentSamplingSteps(result.Round),
                        roundLossSum / (Step - roundStart), path, validation));
                    roundLossSum = 0;
                    roundStart = Step;
                }
                if (options.CheckpointDue(Step, last) is { } resumePath) SaveCheckpoint(resumePath);
                timer.Resume();
            }
        });
    }
}
