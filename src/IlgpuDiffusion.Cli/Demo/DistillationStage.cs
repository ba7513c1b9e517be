using System.Diagnostics;
using System.Globalization;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>A student of the demo: the checkpoint of one SDTT round.</summary>
/// <param name="Round">The round, from 1.</param>
/// <param name="SamplingSteps">The sampling steps the student was distilled for.</param>
/// <param name="Path">Its checkpoint.</param>
internal sealed record DemoStudent(int Round, int SamplingSteps, string Path)
{
    /// <summary>The student's row label in the report.</summary>
    public string Name => string.Create(CultureInfo.InvariantCulture, $"SDTT round {Round} ({SamplingSteps} steps)");
}

/// <summary>
/// Stage <see cref="DemoStage.Distill"/>: multi-round SDTT (<see cref="SdttDistiller"/>) from the teacher's EMA weights,
/// one student checkpoint per round, each validated at its round's end.
/// </summary>
internal static class DistillationStage
{
    /// <summary>Label of the teacher's rows in the report.</summary>
    public const string TeacherName = "MDLM teacher";

    /// <summary>The students the preset's rounds produce, whether or not they exist yet.</summary>
    public static IReadOnlyList<DemoStudent> Students(DemoPreset preset, ulong seed, DemoLayout layout)
    {
        RoundSchedule rounds = preset.Distillation(seed).Rounds;
        return Enumerable.Range(0, rounds.Count).Select(r =>
        {
            int steps = rounds.StudentSamplingSteps(r);
            return new DemoStudent(r + 1, steps, System.IO.Path.Combine(layout.Students,
                string.Create(CultureInfo.InvariantCulture, $"round-{r + 1}-{steps}-steps.safetensors")));
        }).ToArray();
    }

    /// <summary>Distills the teacher at <see cref="DemoLayout.Teacher"/> into the students of <see cref="Students"/>.</summary>
    /// <exception cref="InvalidOperationException">A round's checkpoint was not written where expected.</exception>
    public static void Run(CliConsole console, Device device, PreparedCorpus corpus, DemoPreset preset, ulong seed, DemoLayout layout)
    {
        DistillationConfig config = preset.Distillation(seed);
        RoundSchedule rounds = config.Rounds;
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"SDTT: {rounds.Count} rounds of {rounds.StepsPerRound} steps, " +
            $"{rounds.InitialSamplingSteps} → {rounds.StudentSamplingSteps(rounds.Count - 1)} sampling steps, " +
            $"{config.Divergence}, K = {config.TeacherSteps}, lr {config.Training.LearningRate:0.##e+00}, " +
            $"batch {config.Training.BatchSize}."));
        File.Delete(layout.DistillMetrics);
        if (Directory.Exists(layout.Students)) Directory.Delete(layout.Students, recursive: true);
        Directory.CreateDirectory(layout.Students);
        using Dit teacher = MdlmCheckpoint.LoadModel(layout.Teacher, device);
        using TokenShardSet train = corpus.OpenTrain();
        using TokenShardSet validationData = corpus.OpenValidation();
        using var distiller = new SdttDistiller(teacher, train, config);
        using var validation = new ValidationPerplexity(teacher.Config, device, validationData, config.Training.BatchSize, seed,
            preset.ValidationBatches);
        using var human = console.Interactive ? new ConsoleLineWriter(AnsiConsole.Console) : null;
        using var log = new MetricsLog(human ?? console.Out, layout.DistillMetrics) { TotalSteps = rounds.TotalSteps };
        var clock = Stopwatch.StartNew();
        ProgressBars.Training(console, progress => distiller.Run(options: new DistillationRunOptions
        {
            Log = log,
            Validation = validation,
            RoundCheckpointDirectory = layout.Students,
            WeightsOnlyRounds = true,
            Progress = progress,
        }));
        foreach (DemoStudent student in Students(preset, seed, layout))
            if (!File.Exists(student.Path))
                throw new InvalidOperationException($"Round {student.Round} left no checkpoint at {student.Path}.");
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Distilled {rounds.Count} students in {clock.Elapsed.TotalMinutes:F1} min; checkpoints in {layout.Students}"));
    }
}
