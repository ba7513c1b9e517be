// Distill a Tiny MDLM teacher (trained by examples/TrainTinyMdlm) with multi-round SDTT on the embedded State of
// the Union corpus: N₀ = 128 sampling steps halved each round down to 8 (4 rounds: 64, 32, 16, 8 steps).
//   dotnet run -c Release --project examples/DistillTinyMdlm -- [teacher.safetensors] [steps per round] [auto|cpu|cuda]
// Metrics go to distill-tiny-mdlm.jsonl, round checkpoints to distill-tiny-mdlm/round-{r}-{N}-steps.safetensors.
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Training;

string teacherPath = args.Length > 0 ? args[0] : "train-tiny-mdlm.safetensors";
int stepsPerRound = args.Length > 1 ? int.Parse(args[1]) : 100;
using var device = Device.Create(args.Length > 2 ? args[2] : "auto");
Console.WriteLine($"Device: {device.Description}");

using var teacher = MdlmCheckpoint.LoadModel(teacherPath, device);   // the teacher's EMA weights
var corpus = EmbeddedCorpus.PrepareStateOfTheUnion(new CorpusPreparationOptions { SequenceLength = teacher.Config.Length });
var config = DistillationConfig.Sdtt with
{
    Training = DistillationConfig.Sdtt.Training with { LearningRate = 3e-4, WarmupSteps = 20, BatchSize = 8, LogInterval = 10, Seed = 2 },
    InitialSamplingSteps = 128,
    StepsPerRound = stepsPerRound,
};
using var train = corpus.OpenTrain();
using var validationData = corpus.OpenValidation();
using var distiller = new SdttDistiller(teacher, train, config);
using var validation = new ValidationPerplexity(teacher.Config, device, validationData, batchSize: 8, seed: 7, maxBatches: 8);
Console.WriteLine($"Teacher ({teacherPath}): validation NELBO {validation.Evaluate(teacher.Parameters.All, 0).Nelbo:F4}; " +
    $"{distiller.Rounds.Count} rounds of {stepsPerRound} steps");
using var log = new MetricsLog(Console.Out, "distill-tiny-mdlm.jsonl") { TotalSteps = distiller.Rounds.TotalSteps };
distiller.Run(options: new DistillationRunOptions
{
    Log = log,
    Validation = validation,
    RoundCheckpointDirectory = "distill-tiny-mdlm",
    CheckpointPath = "distill-tiny-mdlm/latest.safetensors",
});
