using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary>
/// <c>export</c>: a checkpoint's weights alone, as a Hugging Face model folder (<c>model.safetensors</c> + <c>config.json</c>)
/// that <c>sample</c>, <c>eval</c>, <c>distill</c> and MDLM's own code load; a distilled student's folder names its sampling
/// steps. A checkpoint also holds the raw weights, both Adam moments and, for distillation, the teacher: 4–5× the weights.
/// </summary>
internal static class ExportCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("export", "Write a checkpoint's weights alone (its EMA weights unless --raw-weights) as a " +
            "Hugging Face model folder: model.safetensors (F32, or BF16 with --dtype bf16) and config.json, a distilled student's " +
            "with its sampling steps");
        var checkpoint = new Argument<string>("checkpoint")
        {
            Description = "A checkpoint made by 'train', 'train --model ar' or 'distill'; or a Hugging Face model folder or " +
                "repository id (org/name) in the local cache, written again",
        };
        command.Arguments.Add(checkpoint);
        var output = new Option<string>("--output", "-o")
        {
            Description = "The model folder to write (created; its model.safetensors and config.json are replaced)",
            HelpName = "folder",
            Required = true,
        };
        var rawWeights = new Option<bool>("--raw-weights")
        {
            Description = "Export the raw weights instead of their moving average (EMA)",
        };
        var dtype = new Option<string>("--dtype")
        {
            Description = "f32 (the weights exactly) or bf16 (rounded to nearest even: half the size, 8 significant bits)",
            DefaultValueFactory = _ => "f32",
        };
        dtype.AcceptOnlyFromAmong("f32", "bf16");
        command.Options.Add(output);
        command.Options.Add(rawWeights);
        command.Options.Add(dtype);
        command.SetAction(parse =>
        {
            string path = parse.GetValue(checkpoint)!, folder = parse.GetValue(output)!;
            ModelSource source = ModelSource.Resolve(path);
            OutputPaths.RequireFolder(folder, "--output");
            OutputPaths.RequireNotAnInput(folder, "--output", source.Path);
            using Device cpu = Device.Create("cpu");
            bool ema = !parse.GetValue(rawWeights);
            WeightsDtype stored = parse.GetValue(dtype) == "bf16" ? WeightsDtype.BF16 : WeightsDtype.F32;
            string kind;
            if (source.Kind == ModelKind.Autoregressive)
            {
                using Gpt gpt = ModelLoading.LoadGpt(source, cpu, !ema);
                GptHuggingFace.Save(gpt.Parameters, folder, stored);
                kind = "GPT";
            }
            else
            {
                using Dit dit = ModelLoading.LoadDiffusion(source, cpu, !ema);
                HuggingFaceImport.Save(dit.Parameters, folder, source.SamplingSteps, stored);
                kind = source.SamplingSteps is int n ? $"SDTT student ({n} sampling steps)" : "MDLM";
            }
            long bytes = new FileInfo(Path.Combine(folder, HuggingFaceImport.WeightsFileName)).Length;
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Exported the {Weights(source, ema)} of the {kind} {Described(source)} " +
                $"({Size(source.Path) / 1048576.0:F1} MiB) to '{folder}' ({bytes / 1048576.0:F1} MiB of {stored} weights)."));
            return CliApplication.Success;
        });
        return command;
    }

    private static string Weights(ModelSource source, bool ema) =>
        source.Format == ModelFormat.HuggingFaceFolder ? "weights" : ema ? "EMA weights" : "raw weights";

    private static string Described(ModelSource source) =>
        source.Format == ModelFormat.Checkpoint ? $"checkpoint '{source.Given}'" : $"model '{source.Given}'";

    /// <summary>Bytes of a checkpoint file, or of a model folder's weights.</summary>
    private static long Size(string path) =>
        new FileInfo(File.Exists(path) ? path : Path.Combine(path, HuggingFaceImport.WeightsFileName)).Length;
}
