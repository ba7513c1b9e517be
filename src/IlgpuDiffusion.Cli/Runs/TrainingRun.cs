using System.Diagnostics;
using System.Globalization;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>What to train and where its results go.</summary>
/// <param name="Corpus">Prepared token shards (training split, and validation when it holds sequences).</param>
/// <param name="Model">The model's shape.</param>
/// <param name="Training">The run's settings.</param>
/// <param name="Steps">Train until this many optimizer steps are done.</param>
/// <param name="CheckpointPath">Checkpoint written at the end (the EMA weights alone unless <paramref name="Resumable"/>); every
/// <paramref name="CheckpointInterval"/> steps a step-numbered one goes beside it.</param>
/// <param name="MetricsPath">JSON-lines metrics file: replaced by a new run, appended to by a resumed one.</param>
/// <param name="CheckpointInterval">Optimizer steps between step-numbered checkpoints (0: none until the end).</param>
/// <param name="ResumeFrom">Checkpoint to continue from, or null for a new run from freshly initialized weights.</param>
/// <param name="Profile">Time every op of the steps after the first and print where a step's time goes.</param>
/// <param name="KeepCheckpoints">Step-numbered checkpoints kept (0: all).</param>
/// <param name="Resumable">Whether the end's checkpoint keeps the full state (else the EMA weights alone, the full state going to
/// the end's step-numbered checkpoint).</param>
internal sealed record TrainingRequest(PreparedCorpus Corpus, DitConfig Model, TrainingConfig Training, int Steps,
    string CheckpointPath, string? MetricsPath, int CheckpointInterval, string? ResumeFrom, bool Profile = false,
    int KeepCheckpoints = RunOptions.DefaultKeepCheckpoints, bool Resumable = false);

/// <summary>How a training run ended.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="Validation">The last validation (null when the corpus has no validation split).</param>
/// <param name="Elapsed">Wall time of the training loop, validations and checkpoints included.</param>
internal sealed record TrainingOutcome(long Step, ValidationMetrics? Validation, TimeSpan Elapsed);

/// <summary>
/// An MDLM training run for the command line: builds the model and trainer, resumes when asked, prints the
/// settings, runs <see cref="MdlmTrainer.Run"/> with its log lines, progress bar, validations and checkpoints,
/// and prints where the results went.
/// </summary>
internal static class TrainingRun
{
    /// <summary>
    /// Runs <paramref name="request"/> on <paramref name="device"/> as one rank of <paramref name="group"/> (one process when null);
    /// <paramref name="showConfigs"/> prints the model and training configs in full.
    /// </summary>
    /// <exception cref="ArgumentException">The request is inconsistent (e.g. the checkpoint is already past the step budget).</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume from is damaged or belongs to another run.</exception>
    public static TrainingOutcome Run(CliConsole console, Device device, TrainingRequest request, bool showConfigs,
        DataParallelGroup? group = null)
    {
        group ??= DataParallelGroup.Single;
        using var model = new Dit(request.Model, device);
        model.Initialize(request.Training.Seed);
        using TokenShardSet train = request.Corpus.OpenTrain();
        using var trainer = new MdlmTrainer(model, train, request.Training, group);
        RequireSameRun(group, request.Corpus, request.Model, request.Training, request.Steps, request.ResumeFrom);
        DataParallelJob.PrintSums(console, group);
        string? metricsPath = group.IsRoot ? request.MetricsPath : null;
        ResumeOrStartFresh(console, request.ResumeFrom, metricsPath, request.Steps, trainer.LoadCheckpoint);
        PrintSettings(console, device, request.Corpus, request.Model, request.Model.ParameterCount(), request.Training, request.Steps,
            request.CheckpointPath, showConfigs);

        bool validate = request.Corpus.Metadata.Validation.Sequences > 0;
        if (!validate) console.Out.WriteLine("The corpus has no validation split: no validation perplexity.");
        using TokenShardSet? validationData = validate && group.IsRoot ? request.Corpus.OpenValidation() : null;
        using ValidationPerplexity? validation = validationData is null ? null : new ValidationPerplexity(request.Model, device,
            validationData, request.Training.BatchSize, request.Training.Seed, request.Training.ValidationBatches);
        return RunLogged(console, request.Steps, request.CheckpointPath, metricsPath, request.Profile ? device : null,
            trainer.Step, (log, until) =>
        {
            using IDisposable stoppable = DataParallelJob.BeginStoppableRun(group);
            ProgressBars.Training(console, progress => trainer.Run(until, new MdlmTrainingRunOptions
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

    /// <summary>
    /// Refuses, on every rank, a data-parallel job whose ranks would train different runs (another corpus, model, settings,
    /// budget or resume point): their gradient sums would mean nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">Some rank's run differs from rank 0's.</exception>
    public static void RequireSameRun(DataParallelGroup group, PreparedCorpus corpus, object model, TrainingConfig training, long steps,
        string? resumeFrom) =>
        group.RequireSame("run settings", string.Join(" | ", corpus.Metadata.Tokenizer, corpus.SequenceLength,
            corpus.Metadata.Train.Sequences, model, training, steps, resumeFrom is null ? "new run" : Path.GetFullPath(resumeFrom)));

    /// <summary>
    /// Loads the checkpoint to resume (refusing one already at the step budget) and drops the metrics of the steps after
    /// it, or deletes a new run's stale metrics file.
    /// </summary>
    /// <exception cref="ArgumentException">The checkpoint is already at or past <paramref name="steps"/>.</exception>
    public static void ResumeOrStartFresh(CliConsole console, string? resumeFrom, string? metricsPath, int steps,
        Func<string, TrainingState> load)
    {
        if (resumeFrom is not null)
        {
            TrainingState state = load(resumeFrom);
            if (state.Step >= steps)
                throw new ArgumentException($"'{resumeFrom}' is already at step {state.Step}; pass --steps greater than that to train on.");
            console.Out.WriteLine($"Resuming '{resumeFrom}' at step {state.Step}.");
            if (metricsPath is not null) MetricsLog.DropRecordsAfter(metricsPath, state.Step);
        }
        else if (metricsPath is not null && File.Exists(metricsPath))
        {
            new FileStream(metricsPath, FileMode.Truncate).Dispose(); // emptied in place: a symbolic link stays one
        }
    }

    /// <summary>
    /// Runs a training loop with the console's log lines (above the progress bar on a terminal), times it and prints where the
    /// results went; with <paramref name="profiled"/>, the steps after the first run under a <see cref="KernelProfile"/> of
    /// that device and a Markdown table of where a step's time goes follows.
    /// </summary>
    /// <param name="console">Where log lines and the summary go.</param>
    /// <param name="steps">The step budget (for the log's step counter).</param>
    /// <param name="checkpoint">The run's checkpoint file, named in the summary.</param>
    /// <param name="metricsPath">JSON-lines metrics file, or null.</param>
    /// <param name="profiled">The device to profile, or null.</param>
    /// <param name="firstStep">The step the run starts from.</param>
    /// <param name="run">Trains with the given log until the given step; returns the step reached and the last validation.</param>
    public static TrainingOutcome RunLogged(CliConsole console, int steps, string checkpoint, string? metricsPath, Device? profiled,
        long firstStep, Func<MetricsLog, long, (long Step, ValidationMetrics? Validation)> run)
    {
        using var human = console.Interactive ? new ConsoleLineWriter(AnsiConsole.Console) : null;
        using var log = new MetricsLog(human ?? console.Out, metricsPath) { TotalSteps = steps };
        var clock = Stopwatch.StartNew();
        (long Step, ValidationMetrics? Validation) result;
        KernelProfile? profile = null;
        long warmedUp = Math.Min(steps, firstStep + 1);
        if (profiled is null)
        {
            result = run(log, steps);
        }
        else
        {
            run(log, warmedUp); // the first step compiles kernels and fills caches: left out of the profile
            using (profile = profiled.StartProfile())
                result = run(log, steps);
        }
        var outcome = new TrainingOutcome(result.Step, result.Validation, clock.Elapsed);
        string metricsNote = metricsPath is null ? "" : $"; metrics: {metricsPath}";
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Trained to step {outcome.Step} in {outcome.Elapsed.TotalMinutes:F1} min; checkpoint: {checkpoint}{metricsNote}"));
        if (profile is not null) console.Out.Write(ProfileTable.Markdown(profile, outcome.Step - warmedUp, profiled!.Description, "step",
            "validation and checkpoints"));
        return outcome;
    }

    /// <summary>
    /// Prints the run's device, corpus, size, budget and checkpoint, and with <paramref name="showConfigs"/> both configs in full.
    /// </summary>
    public static void PrintSettings<TModel>(CliConsole console, Device device, PreparedCorpus corpus, TModel model, long parameters,
        TrainingConfig training, int steps, string checkpoint, bool showConfigs) where TModel : notnull
    {
        console.OutConsole.Write(SettingsTable.Of("Run", [
            ("device", device.Description),
            ("corpus", corpus.Directory),
            ("tokenizer", string.Create(CultureInfo.InvariantCulture,
                $"{corpus.Metadata.Tokenizer} (vocabulary {corpus.Metadata.VocabularySize})")),
            ("sequences", string.Create(CultureInfo.InvariantCulture,
                $"{corpus.Metadata.Train.Sequences:N0} training, {corpus.Metadata.Validation.Sequences:N0} validation, " +
                $"L {corpus.SequenceLength}")),
            ("parameters", parameters.ToString("N0", CultureInfo.InvariantCulture)),
            ("steps", steps.ToString(CultureInfo.InvariantCulture)),
            ("tokens per step", ((long)training.SequencesPerStep * corpus.SequenceLength).ToString("N0", CultureInfo.InvariantCulture)),
            ("checkpoint", checkpoint),
        ]));
        if (!showConfigs) return;
        console.OutConsole.Write(SettingsTable.Of("Model", model));
        console.OutConsole.Write(SettingsTable.Of("Training", training));
    }
}
