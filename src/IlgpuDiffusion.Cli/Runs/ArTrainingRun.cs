using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>
/// What autoregressive model to train and where its results go (the fields mean what they mean in <see cref="TrainingRequest"/>).
/// </summary>
internal sealed record ArTrainingRequest(PreparedCorpus Corpus, GptConfig Model, TrainingConfig Training, int Steps,
    string CheckpointPath, string? MetricsPath, int CheckpointInterval, string? ResumeFrom, bool Profile = false,
    int KeepCheckpoints = RunOptions.DefaultKeepCheckpoints, bool Resumable = false);

/// <summary>
/// <c>train --model ar</c>: next-token training of the GPT baseline with <see cref="ArTrainer"/>, the same loop,
/// log lines, validation (exact perplexity), checkpoints and resume as the MDLM run of <see cref="TrainingRun"/>.
/// </summary>
internal static class ArTrainingRun
{
    /// <summary>
    /// Runs <paramref name="request"/> on <paramref name="device"/> as one rank of <paramref name="group"/> (one process when null).
    /// </summary>
    /// <exception cref="ArgumentException">The checkpoint is already past the step budget.</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume from is damaged or belongs to another run.</exception>
    public static TrainingOutcome Run(CliConsole console, Device device, ArTrainingRequest request, bool showConfigs,
        DataParallelGroup? group = null)
    {
        group ??= DataParallelGroup.Single;
        using var model = new Gpt(request.Model, device);
        model.Initialize(request.Training.Seed);
        using TokenShardSet train = request.Corpus.OpenTrain();
        using var trainer = new ArTrainer(model, train, request.Training, group);
        TrainingRun.RequireSameRun(group, request.Corpus, request.Model, request.Training, request.Steps, request.ResumeFrom);
        DataParallelJob.PrintSums(console, group);
        string? metricsPath = group.IsRoot ? request.MetricsPath : null;
        TrainingRun.ResumeOrStartFresh(console, request.ResumeFrom, metricsPath, request.Steps, trainer.LoadCheckpoint);
        TrainingRun.PrintSettings(console, device, request.Corpus, request.Model, request.Model.ParameterCount(), request.Training,
            request.Steps, request.CheckpointPath, showConfigs);

        bool validate = request.Corpus.Metadata.Validation.Sequences > 0;
        if (!validate) console.Out.WriteLine("The corpus has no validation split: no validation perplexity.");
        using TokenShardSet? validationData = validate && group.IsRoot ? request.Corpus.OpenValidation() : null;
        using ArValidation? validation = validationData is null ? null
            : new ArValidation(request.Model, device, validationData, request.Training.BatchSize, request.Training.ValidationBatches);
        return TrainingRun.RunLogged(console, request.Steps, request.CheckpointPath, metricsPath, request.Profile ? device : null,
            trainer.Step, (log, until) =>
        {
            using IDisposable stoppable = DataParallelJob.BeginStoppableRun(group);
            ProgressBars.Training(console, progress => trainer.Run(until, new ArTrainingRunOptions
            {
                Log = log,
                Validation = validation,
                CheckpointPath = request.CheckpointPath,
                CheckpointInterval = request.CheckpointInterval,
                KeepCheckpoints = request.KeepCheckpoints,
                WeightsOnlyAtEnd = !request.Resumable,
                Progress = progress,
            }, Interruption.Token));
            return (trainer.Step, trainer.LastValidation);
        });
    }
}
