using System.Diagnostics;
using System.Globalization;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>
/// Stage <see cref="DemoStage.Judge"/>: trains the AR judge, the GPT parameter-matched to the teacher, by next-token
/// prediction on the teacher's shards (<see cref="ArTrainer"/>), validating its EMA weights at the end.
/// </summary>
internal static class JudgeTraining
{
    /// <summary>
    /// Trains the judge of <paramref name="preset"/> and writes its checkpoint and metrics as <paramref name="layout"/> says.
    /// </summary>
    public static void Run(CliConsole console, Device device, PreparedCorpus corpus, DemoPreset preset, ulong seed, DemoLayout layout)
    {
        GptConfig config = preset.Judge;
        TrainingConfig training = preset.JudgeTraining(seed);
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"GPT judge: {config.Layers} layers, {config.Hidden} wide, " +
            $"{config.ParameterCount() / 1e6:F1}M parameters (matched to the teacher); " +
            $"{preset.JudgeSteps} steps of {training.BatchSize} × {corpus.SequenceLength} tokens."));
        File.Delete(layout.JudgeMetrics);
        using var model = new Gpt(config, device);
        model.Initialize(seed);
        using TokenShardSet train = corpus.OpenTrain();
        using TokenShardSet validationData = corpus.OpenValidation();
        using var trainer = new ArTrainer(model, train, training);
        using var validation = new ArValidation(config, device, validationData, training.BatchSize, training.ValidationBatches);
        using var human = console.Interactive ? new ConsoleLineWriter(AnsiConsole.Console) : null;
        using var log = new MetricsLog(human ?? console.Out, layout.JudgeMetrics) { TotalSteps = preset.JudgeSteps };
        var clock = Stopwatch.StartNew();
        ProgressBars.Training(console, progress => trainer.Run(preset.JudgeSteps, new ArTrainingRunOptions
        {
            Log = log,
            Validation = validation,
            CheckpointPath = layout.Judge,
            Progress = progress,
        }));
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Trained the judge to step {trainer.Step} in {clock.Elapsed.TotalMinutes:F1} min; checkpoint: {layout.Judge}"));
    }
}
