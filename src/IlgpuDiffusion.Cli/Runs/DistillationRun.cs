using System.Diagnostics;
using System.Globalization;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>What to distill and where its results go.</summary>
/// <param name="Corpus">Prepared token shards (training split, and validation when it holds sequences).</param>
/// <param name="Teacher">The initial teacher's description (path), for the settings table.</param>
/// <param name="Config">The run's settings.</param>
/// <param name="OutputDirectory">Folder of the round checkpoints, the resume checkpoint and the metrics.</param>
/// <param name="CheckpointInterval">Optimizer steps between step-numbered resume checkpoints (0: none until the end).</param>
/// <param name="ResumeFrom">Distillation checkpoint to continue from, or null for a new run.</param>
/// <param name="KeepCheckpoints">Step-numbered resume checkpoints kept (0: all).</param>
/// <param name="ResumableRounds">Whether the round checkpoints keep the full state (else the student's EMA weights alone).</param>
internal sealed record DistillationRequest(PreparedCorpus Corpus, string Teacher, DistillationConfig Config, string OutputDirectory,
    int CheckpointInterval, string? ResumeFrom, int KeepCheckpoints = RunOptions.DefaultKeepCheckpoints, bool ResumableRounds = false)
{
    /// <summary>The resume checkpoint written at the end; the periodic ones are its step-numbered siblings.</summary>
    public string LatestCheckpoint => LatestIn(OutputDirectory);

    /// <summary>The resume checkpoint of a run whose output folder is <paramref name="folder"/>.</summary>
    public static string LatestIn(string folder) => Path.Combine(folder, "latest.safetensors");

    /// <summary>The JSON-lines metrics file (replaced by a new run, appended to by a resumed one).</summary>
    public string MetricsPath => Path.Combine(OutputDirectory, "metrics.jsonl");
}

/// <summary>
/// A multi-round SDTT run for the command line: builds the distiller from the teacher, resumes when asked, prints
/// the settings, runs <see cref="SdttDistiller.Run"/> with its log lines, progress bar, end-of-round validations and
/// checkpoints, and lists the students it wrote.
/// </summary>
internal static class DistillationRun
{
    /// <summary>
    /// Distills <paramref name="teacher"/> (copied, not kept) as <paramref name="request"/> asks, on its device, as one rank of
    /// <paramref name="group"/> (one process when null).
    /// </summary>
    /// <exception cref="ArgumentException">The request is inconsistent (e.g. the checkpoint is already finished).</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume from is damaged or belongs to another run.</exception>
    public static void Run(CliConsole console, Dit teacher, DistillationRequest request, DataParallelGroup? group = null)
    {
        group ??= DataParallelGroup.Single;
        Device device = teacher.Device;
        using TokenShardSet train = request.Corpus.OpenTrain();
        using var distiller = new SdttDistiller(teacher, train, request.Config, group);
        RequireOutputsAreNotInputs(request, distiller);
        TrainingRun.RequireSameRun(group, request.Corpus, teacher.Config, request.Config.Training, distiller.Rounds.TotalSteps,
            request.ResumeFrom ?? request.Teacher);
        DataParallelJob.PrintSums(console, group);
        string? metricsPath = group.IsRoot ? request.MetricsPath : null;
        if (request.ResumeFrom is string resume)
        {
            TrainingState state = distiller.LoadCheckpoint(resume);
            if (distiller.IsFinished)
                throw new ArgumentException($"'{resume}' has finished all {distiller.Rounds.Count} rounds; " +
                    "lower --min-steps to distill further.");
            console.Out.WriteLine($"Resuming '{resume}' at step {state.Step} " +
                $"(round {distiller.CompletedRounds + 1} of {distiller.Rounds.Count}).");
            if (metricsPath is not null) MetricsLog.DropRecordsAfter(metricsPath, state.Step);
        }
        else if (metricsPath is not null && File.Exists(metricsPath))
        {
            new FileStream(metricsPath, FileMode.Truncate).Dispose(); // emptied in place: a symbolic link stays one
        }
        PrintSettings(console, device, request, distiller.Rounds);

        bool validate = request.Corpus.Metadata.Validation.Sequences > 0;
        if (!validate) console.Out.WriteLine("The corpus has no validation split: no validation of the students.");
        using TokenShardSet? validationData = validate && group.IsRoot ? request.Corpus.OpenValidation() : null;
        using ValidationPerplexity? validation = validationData is null ? null : new ValidationPerplexity(teacher.Config, device,
            validationData, request.Config.Training.BatchSize, request.Config.Training.Seed, request.Config.Training.ValidationBatches);
        using var human = console.Interactive ? new ConsoleLineWriter(AnsiConsole.Console) : null;
        using var log = new MetricsLog(human ?? console.Out, metricsPath) { TotalSteps = distiller.Rounds.TotalSteps };
        var clock = Stopwatch.StartNew();
        using (DataParallelJob.BeginStoppableRun(group))
        {
            ProgressBars.Training(console, progress => distiller.Run(options: new DistillationRunOptions
            {
                Log = log,
                Validation = validation,
                RoundCheckpointDirectory = request.OutputDirectory,
                WeightsOnlyRounds = !request.ResumableRounds,
                CheckpointPath = request.LatestCheckpoint,
                CheckpointInterval = request.CheckpointInterval,
                KeepCheckpoints = request.KeepCheckpoints,
                Progress = progress,
            }, cancellationToken: Interruption.Token));
        }
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Distilled {distiller.Rounds.Count} rounds to step {distiller.Step} in {clock.Elapsed.TotalMinutes:F1} min; " +
            $"metrics: {request.MetricsPath}"));
        console.OutConsole.Write(SettingsTable.Of("Students", Enumerable.Range(0, distiller.Rounds.Count).Select(round =>
            ($"{distiller.Rounds.StudentSamplingSteps(round)} sampling steps",
                Path.Combine(request.OutputDirectory, distiller.RoundCheckpointName(round))))));
    }

    /// <summary>
    /// Refuses a run that would overwrite its teacher or corpus with a checkpoint or its metrics, or its resume checkpoint
    /// with metrics (rewriting the resume checkpoint itself is how a resumed run goes on).
    /// </summary>
    /// <exception cref="UsageException">An output is an input.</exception>
    private static void RequireOutputsAreNotInputs(DistillationRequest request, SdttDistiller distiller)
    {
        string? teacher = request.ResumeFrom is null ? request.Teacher : null;
        IEnumerable<string> checkpoints = Enumerable.Range(0, distiller.Rounds.Count)
            .Select(round => Path.Combine(request.OutputDirectory, distiller.RoundCheckpointName(round)))
            .Append(request.LatestCheckpoint);
        foreach (string checkpoint in checkpoints)
            OutputPaths.RequireNotAnInput(checkpoint, "--output", teacher, request.Corpus.Directory);
        OutputPaths.RequireNotAnInput(request.MetricsPath, "--output", teacher, request.ResumeFrom, request.Corpus.Directory);
    }

    private static void PrintSettings(CliConsole console, Device device, DistillationRequest request, RoundSchedule rounds)
    {
        PreparedCorpus corpus = request.Corpus;
        int length = corpus.SequenceLength;
        console.OutConsole.Write(SettingsTable.Of("Run", [
            ("device", device.Description),
            ("teacher", request.Teacher),
            ("corpus", corpus.Directory),
            ("tokenizer", string.Create(CultureInfo.InvariantCulture,
                $"{corpus.Metadata.Tokenizer} (vocabulary {corpus.Metadata.VocabularySize})")),
            ("sequences", string.Create(CultureInfo.InvariantCulture,
                $"{corpus.Metadata.Train.Sequences:N0} training, {corpus.Metadata.Validation.Sequences:N0} validation, L {length}")),
            ("rounds", string.Create(CultureInfo.InvariantCulture,
                $"{rounds.Count} of {rounds.StepsPerRound:N0} steps: " +
                $"{rounds.InitialSamplingSteps} → {rounds.StudentSamplingSteps(rounds.Count - 1)} sampling steps")),
            ("tokens per step", ((long)request.Config.Training.SequencesPerStep * length).ToString("N0", CultureInfo.InvariantCulture)),
            ("output", request.OutputDirectory),
        ]));
        DistillationConfig c = request.Config;
        console.OutConsole.Write(SettingsTable.Of("Distillation", [
            (nameof(c.InitialSamplingSteps), Text(c.InitialSamplingSteps)),
            (nameof(c.MinSamplingSteps), Text(c.MinSamplingSteps)),
            (nameof(c.StepsPerRound), Text(c.StepsPerRound)),
            (nameof(c.TeacherSteps), Text(c.TeacherSteps)),
            (nameof(c.Divergence), c.Divergence.ToString()),
            (nameof(c.CompatReleasedCode), c.CompatReleasedCode.ToString()),
            (nameof(c.TeacherFromEma), c.TeacherFromEma.ToString()),
            (nameof(c.ResetOptimizerEachRound), c.ResetOptimizerEachRound.ToString()),
            (nameof(c.ResetEmaEachRound), c.ResetEmaEachRound.ToString()),
        ]));
        console.OutConsole.Write(SettingsTable.Of("Optimizer", request.Config.Training));
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
