using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary><c>info</c>: the devices present, or what a checkpoint, Hugging Face folder or prepared corpus holds.</summary>
internal static class InfoCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("info", "Show the devices present; with a path, what it holds: a training checkpoint (model config, " +
            "training config and state, parameter count), a Hugging Face model folder (config.json) or a prepared corpus (metadata.json).");
        var path = new Argument<string?>("path")
        {
            Description = "A checkpoint file, a Hugging Face model folder or repository id (org/name) in the local cache, " +
                "or a prepared corpus folder",
            Arity = ArgumentArity.ZeroOrOne,
        };
        command.Arguments.Add(path);
        command.SetAction(parse =>
        {
            string? target = parse.GetValue(path);
            if (target is null) console.OutConsole.Write(DeviceTable.Create());
            else if (File.Exists(target)) ShowCheckpoint(console, target);
            else if (File.Exists(Path.Combine(target, ShardMetadata.FileName))) ShowCorpus(console, target);
            else if (Directory.Exists(target) && !File.Exists(Path.Combine(target, HuggingFaceConfig.FileName)))
                throw new FileNotFoundException($"'{target}' holds neither a prepared corpus ({ShardMetadata.FileName}) " +
                    $"nor a Hugging Face model ({HuggingFaceConfig.FileName}).");
            else ShowHuggingFace(console, ModelSource.Resolve(target));
            return CliApplication.Success;
        });
        return command;
    }

    private static void ShowCheckpoint(CliConsole console, string path)
    {
        string? format;
        bool weightsOnly;
        using (var reader = SafetensorsReader.Open(path))
        {
            format = reader.Metadata.GetValueOrDefault("format");
            weightsOnly = CheckpointTensors.IsWeightsOnly(reader.Metadata);
        }
        if (format == GptCheckpointHeader.Format)
        {
            ShowGptCheckpoint(console, path, weightsOnly);
            return;
        }
        MdlmCheckpointHeader header = MdlmCheckpoint.ReadHeader(path);
        DistillationState? distillation = DistillationCheckpoint.TryReadState(path);
        console.OutConsole.Write(SettingsTable.Of("Checkpoint", [
            ("file", Path.GetFullPath(path)),
            ("size", Bytes(new FileInfo(path).Length)),
            ("format", $"{MdlmCheckpointHeader.Format} v{MdlmCheckpointHeader.Version}"),
            ("parameters", header.Model.ParameterCount().ToString("N0", CultureInfo.InvariantCulture)),
            ("kind", distillation is null ? "MDLM (trained)" : $"SDTT student, {distillation.CompletedRounds} round(s) distilled"),
            ("sampling steps", distillation is null
                ? $"any (sample --steps, default {new SamplerOptions().Steps})"
                : $"{distillation.SamplingSteps} (sample's default)"),
            ("contents", weightsOnly ? WeightsOnly
                : distillation is null ? "resumable: model (raw weights), ema (for sampling), adam_m, adam_v"
                : "resumable: model (raw weights), ema (for sampling), adam_m, adam_v, teacher.* (the round's teacher)"),
        ]));
        console.OutConsole.Write(SettingsTable.Of("Model", header.Model));
        console.OutConsole.Write(SettingsTable.Of("Training", header.Training));
        console.OutConsole.Write(SettingsTable.Of("State", header.State));
        RequireValid(path, () => header.Model.Validate(), header.Training);
    }

    /// <summary>Shows the corpus as its metadata describes it, then checks that every shard holds what the metadata promises.</summary>
    /// <exception cref="InvalidDataException">A shard is missing, truncated or foreign (the message names it).</exception>
    private static void ShowCorpus(CliConsole console, string folder)
    {
        PreparedCorpus corpus = PreparedCorpus.Open(folder);
        console.OutConsole.Write(CorpusTable.Of(corpus));
        corpus.Verify();
    }

    /// <summary>
    /// Fails, after the tables are shown, on a checkpoint whose configs no model or run could have: 'info' exits non-zero on
    /// what 'sample' or a resume would refuse.
    /// </summary>
    /// <exception cref="InvalidDataException">A config is invalid; the message names the file and the setting.</exception>
    private static void RequireValid(string path, Action validateModel, TrainingConfig training)
    {
        try
        {
            validateModel();
            training.Validate();
        }
        catch (ArgumentException e)
        {
            string message = e.ParamName is null
                ? e.Message
                : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            throw new InvalidDataException($"'{path}' holds an invalid config: {message}", e);
        }
    }

    private static void ShowGptCheckpoint(CliConsole console, string path, bool weightsOnly)
    {
        GptCheckpointHeader header = GptCheckpoint.ReadHeader(path);
        console.OutConsole.Write(SettingsTable.Of("Autoregressive checkpoint", [
            ("file", Path.GetFullPath(path)),
            ("size", Bytes(new FileInfo(path).Length)),
            ("format", $"{GptCheckpointHeader.Format} v{GptCheckpointHeader.Version}"),
            ("parameters", header.Model.ParameterCount().ToString("N0", CultureInfo.InvariantCulture)),
            ("contents", weightsOnly ? WeightsOnly : "resumable: model (raw weights), ema (for scoring and decoding), adam_m, adam_v"),
        ]));
        console.OutConsole.Write(SettingsTable.Of("Model", header.Model));
        console.OutConsole.Write(SettingsTable.Of("Training", header.Training));
        console.OutConsole.Write(SettingsTable.Of("State", header.State));
        RequireValid(path, () => header.Model.Validate(), header.Training);
    }

    /// <summary>A Hugging Face model folder, given as a folder or as a repository id in the local cache.</summary>
    private static void ShowHuggingFace(CliConsole console, ModelSource source)
    {
        string config = Path.Combine(source.Path, HuggingFaceConfig.FileName);
        string weights = Path.Combine(source.Path, HuggingFaceImport.WeightsFileName);
        bool gpt = source.Kind == ModelKind.Autoregressive;
        GptConfig? gptConfig = gpt ? GptHuggingFaceConfig.Read(config) : null;
        DitConfig? ditConfig = gpt ? null : HuggingFaceConfig.Read(config);
        long parameters = gptConfig?.ParameterCount() ?? ditConfig!.ParameterCount();
        string? dtypes = null;
        if (File.Exists(weights))
        {
            using var reader = SafetensorsReader.Open(weights);
            dtypes = string.Join(", ", reader.Tensors.Select(t => t.Dtype.ToString()).Distinct());
        }
        var rows = new List<(string, string)>();
        if (source.Given != source.Path) rows.Add(("repository", source.Given));
        rows.AddRange([
            ("folder", Path.GetFullPath(source.Path)),
            ("kind", gpt ? "GPT (autoregressive)"
                : source.SamplingSteps is int n ? $"SDTT student, distilled for {n} sampling steps" : "MDLM"),
            ("sampling steps", gpt ? "one token per step"
                : source.SamplingSteps is int steps ? $"{steps} (sample's default, {HuggingFaceConfig.SamplingStepsKey})"
                : $"any (sample --steps, default {new SamplerOptions().Steps})"),
            ("weights", dtypes is null
                ? $"{HuggingFaceImport.WeightsFileName} missing"
                : $"{HuggingFaceImport.WeightsFileName}, {Bytes(new FileInfo(weights).Length)}"),
            ("dtype", dtypes ?? "-"),
            ("parameters", parameters.ToString("N0", CultureInfo.InvariantCulture)),
            ("F32 size", Bytes(parameters * sizeof(float))),
        ]);
        console.OutConsole.Write(SettingsTable.Of("Hugging Face model", rows.AsEnumerable()));
        if (gptConfig is not null) console.OutConsole.Write(SettingsTable.Of("Model", gptConfig));
        else console.OutConsole.Write(SettingsTable.Of("Model", ditConfig!));
    }

    /// <summary>The contents row of a weights-only checkpoint.</summary>
    private const string WeightsOnly = "weights only: ema (for sampling and evaluation); resume from a step-numbered checkpoint";

    private static string Bytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):F1} MiB");
}
