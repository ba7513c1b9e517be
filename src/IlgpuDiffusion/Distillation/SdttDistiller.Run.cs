using System.Globalization;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

public sealed partial class SdttDistiller
{
    /// <summary>The file name of round <paramref name="round"/>'s (from 0) checkpoint: <c>round-{r+1}-{N}-steps.safetensors</c>.</summary>
    public string RoundCheckpointName(int round) => string.Create(CultureInfo.InvariantCulture,
        $"round-{round + 1}-{Rounds.StudentSamplingSteps(round)}-steps.safetensors");

    Device ITrainingSteps.Device => _student.Device;

    DataParallelGroup ITrainingSteps.Group => _run.Group;

    TrainingConfig ITrainingSteps.Config => Config.Training;

    /// <summary>
    /// The student's training FLOPs plus <see cref="DistillationConfig.TeacherSteps"/> teacher forward passes (a third each).
    /// </summary>
    double ITrainingSteps.FlopsPerToken
    {
        get
        {
            double training = _student.Config.TrainingFlopsPerToken(_trainData.SequenceLength);
            return training + Config.TeacherSteps * training / 3;
        }
    }

    StepResult ITrainingSteps.TrainStep()
    {
        DistillationStepResult result = TrainStep();
        return new StepResult(result.Step, result.Loss, result.GradientNorm, result.LearningRate);
    }

    /// <summary>
    /// Distills until <see cref="Step"/> reaches <paramref name="untilStep"/> (every round when null) on the training loop
    /// the MDLM and GPT trainers share: logs the mean loss, gradient norm, lr, round, Δ, ms/step, tokens/s (and MFU when
    /// <see cref="TrainingConfig.PeakFlops"/> is set) every <see cref="TrainingConfig.LogInterval"/> steps and at each
    /// round's end; at each round's end writes the round's checkpoint, validates the EMA student and logs the round;
    /// writes the resume checkpoint and reports progress as <paramref name="options"/> asks. Checkpoint and validation
    /// time is left out of the timings.
    /// </summary>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancellationToken"/> was cancelled; the run stops between steps after writing its resume checkpoint.
    /// </exception>
    public void Run(long? untilStep = null, DistillationRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DistillationRunOptions();
        if (!_run.Group.IsRoot)
            options = options with { Log = null, CheckpointPath = null, Validation = null, RoundCheckpointDirectory = null };
        long until = untilStep ?? Rounds.TotalSteps;
        if (until < Step || until > Rounds.TotalSteps)
            throw new ArgumentOutOfRangeException(nameof(untilStep),
                $"Distill until a step in [{Step}, {Rounds.TotalSteps}]; got {until}.");
        long roundStart = Step;
        double roundLossSum = 0;
        void EndRound(StepResult result)
        {
            roundLossSum += result.Loss;
            if (result.Step % Rounds.StepsPerRound != 0) return;
            int round = Rounds.RoundOf(result.Step - 1);
            string? path = options.RoundCheckpointDirectory is { } folder ? Path.Combine(folder, RoundCheckpointName(round)) : null;
            if (path is not null && options.WeightsOnlyRounds) SaveWeights(path);
            else if (path is not null) SaveCheckpoint(path);
            ValidationMetrics? validation = options.Validation?.Evaluate(Ema.Weights, result.Step);
            options.Log?.Write(new DistillationRoundMetrics(result.Step, round, Rounds.StudentSamplingSteps(round),
                roundLossSum / (result.Step - roundStart), path, validation));
            roundLossSum = 0;
            roundStart = result.Step;
        }
        TrainingLoop.Run(this, until, options, new TrainingLoopHooks
        {
            EndsInterval = step => step % Rounds.StepsPerRound == 0,
            Describe = interval =>
            {
                int round = Rounds.RoundOf(interval.Step - 1);
                return new DistillationMetrics(interval, round, Rounds.TeacherStepSize(round));
            },
            AfterStep = EndRound,
            Stage = step => string.Create(CultureInfo.InvariantCulture, $"Round {Rounds.RoundOf(step - 1) + 1}/{Rounds.Count}"),
        }, cancellationToken);
    }
}
