using System.Globalization;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>
/// Stage <see cref="DemoStage.Evaluate"/>: the <see cref="EvaluationSuite"/> on the teacher, every student and the AR
/// judge (validation perplexity side by side, the held-out cloze, generative perplexity in both conventions with entropy
/// at every step count, judged by the AR model), then <see cref="LatencyComparison"/> of the diffusion sampler against the
/// judge's KV-cached decoding, and the <see cref="DemoSamples"/> the report shows. Writes <c>evaluation.json</c>,
/// <c>evaluation.md</c>, <c>samples.json</c> and <c>latency.json</c>.
/// </summary>
internal static class EvaluationStage
{
    /// <summary>Label of the AR judge's rows in the report.</summary>
    public const string JudgeName = "AR judge (GPT)";

    /// <summary>Seed of the evaluation samples (SDTT's).</summary>
    public const ulong SampleSeed = 100;

    /// <summary>
    /// The parts of the suite the demo runs: MAUVE and self-BLEU are left out for time, and there is no LAMBADA file offline.
    /// </summary>
    public const EvaluationParts Parts =
        EvaluationParts.ValidationPerplexity | EvaluationParts.Cloze | EvaluationParts.GenerativePerplexity;

    /// <summary>The suite's settings for <paramref name="preset"/>.</summary>
    public static EvaluationOptions Options(DemoPreset preset) => new()
    {
        Parts = Parts,
        Steps = preset.EvaluatedSteps,
        Samples = preset.Samples,
        BatchSize = Math.Min(preset.BatchSize, preset.Samples),
        Seed = SampleSeed,
        LambadaTimeDraws = preset.ClozeTimeDraws,
        Cloze = LambadaClozeOptions.Default with { MaxPassages = preset.ClozePassages },
        ValidationBatchSize = preset.BatchSize,
        ValidationBatches = preset.ValidationBatches,
        Retokenization = Retokenization.For(Tokenizer.FromName(preset.Tokenizer), Tokenizer.FromName(preset.Tokenizer)),
    };

    /// <summary>
    /// The latency comparison's settings for <paramref name="preset"/>: B = the batch, L = the model's length, N = every evaluated step
    /// count.
    /// </summary>
    public static LatencyOptions Latency(DemoPreset preset, ulong seed) => new()
    {
        BatchSize = preset.BatchSize,
        Length = preset.Model.Length,
        Steps = preset.EvaluatedSteps,
        IncludeUncached = false,
        WarmupRuns = 1,
        TimedRuns = 1,
        Seed = seed,
    };

    /// <summary>Evaluates the checkpoints in <paramref name="layout"/> and writes the results there.</summary>
    public static void Run(CliConsole console, Device device, PreparedCorpus corpus, DemoPreset preset, ulong seed, DemoLayout layout)
    {
        IReadOnlyList<DemoStudent> students = DistillationStage.Students(preset, seed, layout);
        var diffusion = new List<DiffusionSubject>();
        try
        {
            diffusion.Add(new DiffusionSubject(DistillationStage.TeacherName, MdlmCheckpoint.LoadModel(layout.Teacher, device)));
            foreach (DemoStudent student in students)
                diffusion.Add(new DiffusionSubject(student.Name, MdlmCheckpoint.LoadModel(student.Path, device)));
            using Gpt judge = GptCheckpoint.LoadModel(layout.Judge, device);
            using var scorer = new GptJudge(judge, batchSize: preset.BatchSize);
            using TokenShardSet validation = corpus.OpenValidation();
            var inputs = new EvaluationInputs
            {
                DiffusionModels = diffusion,
                ArModel = new ArSubject(JudgeName, judge),
                Judge = scorer,
                JudgeDescription = string.Create(CultureInfo.InvariantCulture,
                    $"the own AR judge (GPT, {judge.Config.Layers} layers, {judge.Config.Hidden} wide, " +
                    $"{judge.Config.ParameterCount() / 1e6:F1}M parameters, {preset.JudgeSteps} steps on the same shards)"),
                Validation = validation,
            };
            var suite = new EvaluationSuite(Options(preset), ProgressLines(console));
            EvaluationReport report = suite.Run(inputs, "Evaluation of the teacher, the SDTT students and the AR judge");
            (string json, _) = EvaluationSuite.Save(report, layout.Root);
            console.Out.WriteLine($"Evaluation written to {json}.");
            console.Out.WriteLine("Samples for the report: the teacher at the most and the fewest steps, the last student at its own.");
            DemoSamples.Save(DemoSamples.Draw(diffusion, preset.EvaluatedSteps), layout.Samples);

            console.Out.WriteLine("Latency: the diffusion sampler (teacher weights; students cost the same) " +
                "against the judge's KV-cached decoding.");
            LatencyReport latency = LatencyComparison.Run(diffusion[0].Model, judge, Latency(preset, seed),
                row => console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {row.Generator}{(row.Steps is int n ? $" at {n} steps" : "")}: " +
                    $"{row.Mean.TotalSeconds:F3} s for {row.Tokens} tokens ({row.TokensPerSecond:N0} tokens/s)")));
            LatencyFile.Save(latency, layout.Latency);
        }
        finally
        {
            foreach (DiffusionSubject subject in diffusion) subject.Model.Dispose();
        }
    }

    /// <summary>
    /// A progress handler that prints one line as each unit of work starts (a model's validation, cloze, or samples at one step count).
    /// </summary>
    private static Action<EvaluationProgress> ProgressLines(CliConsole console)
    {
        (string, string, int?)? current = null;
        return progress =>
        {
            var unit = (progress.Stage, progress.Model, progress.Steps);
            if (current == unit) return;
            current = unit;
            string steps = progress.Steps is int n ? string.Create(CultureInfo.InvariantCulture, $" at {n} steps") : "";
            console.Out.WriteLine($"  {progress.Stage}: {progress.Model}{steps}");
        };
    }
}
