using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Model;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary>
/// <c>demo</c>, the main job: prepare the embedded corpus, train a Tiny MDLM on it, report its validation perplexity
/// and print a few generated samples, in about ten minutes on two CPU cores.
/// </summary>
internal static class DemoCommand
{
    /// <summary>
    /// Optimizer steps of the default run: about 7–8 minutes of training at B 8 × L 128 on two AVX-512 cores
    /// (0.6–0.8 s a step), a few seconds on a GPU.
    /// </summary>
    public const int DefaultSteps = 600;

    /// <summary>The demo's training recipe: MDLM's, with a short warm-up and a higher rate for a short run.</summary>
    public static TrainingConfig Recipe { get; } = TrainingConfig.Mdlm with
    {
        LearningRate = 1e-3,
        WarmupSteps = 50,
        BatchSize = 8,
        LogInterval = 25,
        ValidationInterval = 0,
        ValidationBatches = 32,
    };

    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("demo", "The main job: train a Tiny MDLM (4 layers, 256 wide, L 128) on the embedded State of the " +
            "Union corpus, report its validation perplexity and print generated samples. About 10 minutes on 2 CPU cores; " +
            "a CUDA GPU is used when present.");
        var steps = new Option<int>("--steps", "-n")
        {
            Description = "Training steps (batch 8 × 128 tokens)",
            DefaultValueFactory = _ => DefaultSteps,
        }.Positive();
        var samples = new Option<int>("--samples") { Description = "Sequences to generate", DefaultValueFactory = _ => 3 }.Positive();
        var sampleSteps = new Option<int>("--sample-steps") { Description = "Denoising steps per sample", DefaultValueFactory = _ => 128 }.Positive();
        var seed = new Option<ulong>("--seed") { Description = "Seed of training and sampling", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder for the checkpoint and metrics",
            DefaultValueFactory = _ => "ilgpu-diffusion-demo",
            HelpName = "folder",
        };
        var device = DeviceOption.Create();
        foreach (Option option in new Option[] { steps, samples, sampleSteps, seed, output, device }) command.Options.Add(option);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var clock = Stopwatch.StartNew();
            DitConfig model = DitConfig.Tiny;
            int stepCount = parse.GetValue(steps);
            using Device opened = Device.Create(parse.GetValue(device));
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Demo: train a Tiny MDLM ({model.Layers} layers, {model.Hidden} wide, {model.ParameterCount() / 1e6:F1}M parameters, L {model.Length}) " +
                $"for {stepCount} steps on {opened.Description}, then generate {parse.GetValue(samples)} samples."));

            console.Out.WriteLine("[1/3] Corpus");
            PreparedCorpus corpus = CorpusSource.PrepareEmbedded(model.Length, console);

            console.Out.WriteLine("[2/3] Training");
            string folder = parse.GetValue(output)!;
            string checkpoint = Path.Combine(folder, "tiny-mdlm.safetensors");
            TrainingConfig training = Recipe with { Seed = parse.GetValue(seed), MaxSteps = stepCount };
            TrainingOutcome trained = TrainingRun.Run(console, opened, new TrainingRequest(corpus, model, training, stepCount,
                checkpoint, TrainCommand.MetricsPathBeside(checkpoint), CheckpointInterval: 0, ResumeFrom: null), showConfigs: false);

            console.Out.WriteLine("[3/3] Sampling");
            using Dit trainedModel = Checkpoint.LoadModel(checkpoint, opened);
            var sampler = new SamplerOptions { Steps = parse.GetValue(sampleSteps), BatchSize = parse.GetValue(samples), Seed = parse.GetValue(seed) };
            SamplingResult result = await SamplingRun.RunAsync(console, trainedModel,
                new SamplingRequest(sampler, model.Length, Prompt: null, TotalLength: null, Stride: model.Length, Stream: false), cancellationToken);
            SampleWriter.Write(console.Out, result, SampleFormat.Text);

            string perplexity = trained.Validation is ValidationMetrics v
                ? string.Create(CultureInfo.InvariantCulture, $"{v.Perplexity:F1} (an upper bound, EMA weights, {v.Tokens:N0} validation tokens)")
                : "not measured";
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Validation perplexity after {trained.Step} steps: {perplexity}. Sampling: {result.ForwardPasses} forward passes, {result.Elapsed.TotalSeconds:F1} s."));
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Done in {clock.Elapsed.TotalMinutes:F1} min. More samples: {CliApplication.Name} sample \"{checkpoint}\" --prompt \"Fellow citizens\" --stream"));
            return CliApplication.Success;
        });
        return command;
    }
}
