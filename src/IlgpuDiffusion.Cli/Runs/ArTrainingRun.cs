using System.Diagnostics;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Training;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>What autoregressive model to train and where its results go (the fields mean what they mean in <see cref="TrainingRequest"/>).</summary>
internal sealed record ArTrainingRequest(PreparedCorpus Corpus, GptConfig Model, TrainingConfig Training, int Steps,
    string CheckpointPath, string? MetricsPath, int CheckpointInterval, string? ResumeFrom);

/// <summary>
/// <c>train --model ar</c>: next-token training of the GPT baseline with <see cref="ArTrainer"/>, the same loop,
/// log lines, validation (exact perplexity), checkpoints and resume as the MDLM run of <see cref="TrainingRun"/>.
/// </summary>
internal static class ArTrainingRun
{
    /// <summary>Runs <paramref name="request"/> on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">The checkpoint is already past the step budget.</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume from is damaged or belongs to another run.</exception>
    public static TrainingOutcome Run(CliConsole console, Device device, ArTrainingRequest request, bool showConfigs)
    {
        using var model = new Gpt(request.Model, device);
        model.Initialize(request.Training.Seed);
        using TokenShardSet train = request.Corpus.OpenTrain();
        using var trainer = new ArTrainer(model, train, request.Training);
        if (request.ResumeFrom is string resume)
        {
            TrainingState state = trainer.LoadCheckpoint(resume);
            if (state.Step >= request.Steps)
                throw new ArgumentException($"'{resume}' is already at step {state.Step}; pass --steps greater than that to train on.");
            console.Out.WriteLine($"Resuming '{resume}' at step {state.Step}.");
        }
        else if (request.MetricsPath is string metrics && File.Exists(metrics))
        {
            File.Delete(metrics);
        }
        TrainingRun.PrintSettings(console, device, request.Corpus, request.Model, request.Model.ParameterCount(), request.Training,
            request.Steps, request.CheckpointPath, showConfigs);

        bool validate = request.Corpus.Metadata.Validation.Sequences > 0;
        if (!validate) console.Out.WriteLine("The corpus has no validation split: no validation perplexity.");
        using TokenShardSet? validationData = validate ? request.Corpus.OpenValidation() : null;
        using ArValidation? validation = validationData is null ? null
            : new ArValidation(request.Model, device, validationData, request.Training.BatchSize, request.Training.ValidationBatches);
        using var human = console.Interactive ? new ConsoleLineWriter(AnsiConsole.Console) : null;
        using var log = new MetricsLog(human ?? console.Out, request.MetricsPath) { TotalSteps = request.Steps };
        var clock = Stopwatch.StartNew();
        trainer.Run(request.Steps, new ArTrainingRunOptions
        {
            Log = log,
            Validation = validation,
            CheckpointPath = request.CheckpointPath,
            CheckpointInterval = request.CheckpointInterval,
            ShowProgress = console.Interactive,
        });
        var outcome = new TrainingOutcome(trainer.Step, trainer.LastValidation, clock.Elapsed);
        TrainingRun.PrintFinished(console, outcome, request.CheckpointPath, request.MetricsPath);
        return outcome;
    }
}
