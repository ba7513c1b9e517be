using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Files;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary><c>sample</c>: generate text from an own training checkpoint or an imported Hugging Face model.</summary>
internal static class SampleCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("sample", "Generate text with the ancestral (DDPM) sampler: start from all [MASK], reveal tokens " +
            "over N steps; from a GPT checkpoint ('train --model ar'), left to right with the KV cache. Samples go to standard " +
            "output (or --output); the summary and --stream display go to standard error.");
        var model = new Argument<string>("model")
        {
            Description = "A training checkpoint (.safetensors made by 'train' or 'distill', or a GPT's by 'train --model ar') " +
                "or a Hugging Face model folder (config.json + model.safetensors), or a Hugging Face repository id (org/name[@revision]) " +
                "in the local Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub; never downloaded)",
        };
        command.Arguments.Add(model);
        var sampling = new SamplingOptions(command);
        var length = new Option<int?>("--length", "-l")
        {
            Description = "Tokens per sequence, at most the model's length [default: the model's length]",
        }.Positive();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Text every sample starts with (after BOS)" };
        var suffix = new Option<string?>("--suffix")
        {
            Description = "Text every sample ends with (before EOS): the sampler fills in between",
        };
        var totalLength = new Option<int?>("--total-length")
        {
            Description = "Semi-autoregressive generation of this many tokens per sequence, beyond the model's length",
        }.Positive();
        var stride = new Option<int?>("--stride")
        {
            Description = "New tokens per further semi-autoregressive window, in [1, length] [default: half the length]",
        }.Positive();
        var stream = new Option<bool>("--stream")
        {
            Description = "Show the denoising step by step (on a terminal: the text as it appears)",
        };
        var format = new Option<string>("--format", "-f")
        {
            Description = "Output format: text or jsonl (one {\"sample\",\"text\",\"ids\"} object per line)",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "jsonl");
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Write the samples to this file instead of standard output",
            HelpName = "file",
        };
        var rawWeights = new Option<bool>("--raw-weights")
        {
            Description = "Use a training checkpoint's raw weights instead of their moving average (EMA)",
        };
        var device = new DeviceOptions(command);
        foreach (Option option in new Option[] { length, prompt, suffix, totalLength, stride, stream, format, output, rawWeights })
            command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if (result.GetValue(totalLength) is null) return;
            if (result.GetValue(stream)) result.AddError("--stream shows one window; drop --stream or --total-length.");
            if (result.GetValue(suffix) is not null)
                result.AddError("--suffix fixes the end of one window; drop --suffix or --total-length.");
        });

        command.SetAction(async (parse, cancellationToken) =>
        {
            string modelPath = parse.GetValue(model)!;
            ModelSource source = ModelSource.Resolve(modelPath);
            if (source.Kind == ModelKind.Autoregressive)
                return SampleGpt(console, parse, source, sampling, device, rawWeights, length, prompt, format, output,
                    [suffix, totalLength, stride, stream], cancellationToken);
            int? studentSteps = source.SamplingSteps;
            SamplerOptions options = sampling.Resolve(parse, studentSteps);
            string? file = parse.GetValue(output);
            if (file is not null)
            {
                OutputPaths.RequireFile(file, "--output");
                OutputPaths.RequireNotAnInput(file, "--output", parse.GetValue(model));
            }
            using Device opened = device.Open(parse);
            using Dit dit = ModelLoading.LoadDiffusion(source, opened, parse.GetValue(rawWeights));
            int window = parse.GetValue(length) ?? dit.Config.Length;
            Tokenizer tokenizer = Tokenizer.FromName(dit.Config.Tokenizer);
            var request = new SamplingRequest(options, window,
                SamplingPrompt.FromText(tokenizer, parse.GetValue(prompt), parse.GetValue(suffix), window),
                parse.GetValue(totalLength), parse.GetValue(stride) ?? Math.Max(1, window / 2), parse.GetValue(stream));
            SamplingResult result = await SamplingRun.RunAsync(console, dit, request, cancellationToken);
            SampleFormat sampleFormat = parse.GetValue(format) == "jsonl" ? SampleFormat.JsonLines : SampleFormat.Text;
            if (file is null) SampleWriter.Write(console.Out, result, sampleFormat, tokenizer);
            else WriteFile(file, writer => SampleWriter.Write(writer, result, sampleFormat, tokenizer));
            bool ownSteps = studentSteps is not null && parse.GetValue(sampling.Steps) is null;
            console.Error.WriteLine(Summary(result, options, ownSteps, opened, file));
            return CliApplication.Success;
        });
        return command;
    }

    /// <summary>
    /// Generates from a GPT model with the options both model kinds share; the diffusion sampler's own options are usage
    /// errors that say why.
    /// </summary>
    private static int SampleGpt(CliConsole console, ParseResult parse, ModelSource source, SamplingOptions sampling, DeviceOptions device,
        Option<bool> rawWeights, Option<int?> length, Option<string?> prompt, Option<string> format, Option<string?> output,
        Option[] diffusionOnly, CancellationToken cancellationToken)
    {
        string[] given = [.. sampling.DiffusionOnlyGiven(parse),
            .. diffusionOnly.Where(option => parse.GetResult(option) is { Implicit: false }).Select(option => option.Name)];
        if (given.Length > 0)
            throw new UsageException($"'{source.Given}' is a GPT {(source.Format == ModelFormat.Checkpoint ? "checkpoint" : "model")}, " +
                "which generates left to right with a KV cache: " +
                $"{string.Join(", ", given)} appl{(given.Length == 1 ? "ies" : "y")} to diffusion models only.");
        GptSamplingOptions options = sampling.ResolveGpt(parse);
        string? file = parse.GetValue(output);
        if (file is not null)
        {
            OutputPaths.RequireFile(file, "--output");
            OutputPaths.RequireNotAnInput(file, "--output", source.Path);
        }
        using Device opened = device.Open(parse);
        using Gpt gpt = ModelLoading.LoadGpt(source, opened, parse.GetValue(rawWeights));
        var request = new GptSampleRequest(options, sampling.BatchSize(parse), parse.GetValue(length) ?? gpt.Config.Length,
            parse.GetValue(prompt));
        var (result, elapsed) = GptSampleRun.Run(console, gpt, request, cancellationToken);
        Tokenizer tokenizer = Tokenizer.FromName(gpt.Config.Tokenizer);
        SampleFormat sampleFormat = parse.GetValue(format) == "jsonl" ? SampleFormat.JsonLines : SampleFormat.Text;
        if (file is null) SampleWriter.Write(console.Out, result.Tokens, sampleFormat, tokenizer);
        else WriteFile(file, writer => SampleWriter.Write(writer, result.Tokens, sampleFormat, tokenizer));
        console.Error.WriteLine(GptSampleRun.Summary(result, elapsed, options.Seed, opened, file));
        return CliApplication.Success;
    }

    /// <summary>Writes the samples to <paramref name="path"/> atomically (<see cref="AtomicFile"/>): no half-written output.</summary>
    private static void WriteFile(string path, Action<TextWriter> write) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            write(writer);
        });

    private static string Summary(SamplingResult result, SamplerOptions options, bool studentSteps, Device device, string? file)
    {
        string steps = studentSteps ? $"{options.Steps} steps (the student's own)" : $"{options.Steps} steps";
        string cache = options.Cached ? "cached" : "uncached";
        string destination = file is null ? "" : $"; written to {file}";
        return string.Create(CultureInfo.InvariantCulture,
            $"Sampled {result.BatchSize} × {result.Length} tokens with {steps}, seed {options.Seed}, on {device.Backend.Name()}: " +
            $"{result.ForwardPasses} forward passes ({cache}), " +
            $"{result.Elapsed.TotalSeconds:F1} s, {result.TokensPerSecond:N0} tokens/s{destination}");
    }
}
