// Train a Tiny MDLM (4 layers, 256 wide, L 128) on the embedded State of the Union corpus and
// report the validation perplexity of its EMA weights, on any backend:
//   dotnet run -c Release --project examples/TrainTinyMdlm -- [steps] [auto|cpu|cuda]
// Metrics also go to train-tiny-mdlm.jsonl; the final state to train-tiny-mdlm.safetensors.
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

int steps = args.Length > 0 ? int.Parse(args[0]) : 300;
using var device = Device.Create(args.Length > 1 ? args[1] : "auto");
Console.WriteLine($"Device: {device.Description}");

var model = DitConfig.Tiny;
var corpus = EmbeddedCorpus.PrepareStateOfTheUnion(new CorpusPreparationOptions { SequenceLength = model.Length });
Console.WriteLine($"Corpus: {corpus.Metadata.Train.Sequences} training and {corpus.Metadata.Validation.Sequences} validation sequences " +
    $"of {model.Length} tokens ({corpus.Directory})");

var training = TrainingConfig.Mdlm with
{
    LearningRate = 1e-3,
    WarmupSteps = 50,
    BatchSize = 8,
    LogInterval = 25,
    ValidationInterval = steps,
    ValidationBatches = 8,
};
using var dit = new Dit(model, device);
dit.Initialize(seed: 1);
using var train = corpus.OpenTrain();
using var validationData = corpus.OpenValidation();
using var trainer = new MdlmTrainer(dit, train, training);
using var validation = new ValidationPerplexity(model, device, validationData, training.BatchSize, seed: 7, training.ValidationBatches);
using var log = new MetricsLog(Console.Out, "train-tiny-mdlm.jsonl");
trainer.Run(steps, new MdlmTrainingRunOptions { Log = log, Validation = validation, CheckpointPath = "train-tiny-mdlm.safetensors" });
Console.WriteLine($"Validation perplexity (EMA weights) after {steps} steps: {trainer.LastValidation?.Perplexity:F1}");
