using System.Text.Json.Nodes;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;

namespace IlgpuDiffusion;

/// <summary>
/// Where a model comes from, resolved once: an own checkpoint file (MDLM, SDTT student or GPT, written by training or
/// distillation), a Hugging Face model folder (<c>config.json</c> + <c>model.safetensors</c>: MDLM/SDTT or GPT-2) or a
/// Hugging Face repository id <c>org/name[@revision]</c> found in the local cache (<see cref="HuggingFaceCache"/>; never
/// downloaded). It tells the model's kind and, for a distilled student, the sampling steps it was distilled for.
/// </summary>
public sealed class ModelSource
{
    private ModelSource(string given, string path, ModelFormat format, ModelKind kind, int? samplingSteps)
    {
        Given = given;
        Path = path;
        Format = format;
        Kind = kind;
        SamplingSteps = samplingSteps;
    }

    /// <summary>The source as given (a path or a repository id).</summary>
    public string Given { get; }

    /// <summary>The checkpoint file or model folder on disk (a repository id's cache snapshot).</summary>
    public string Path { get; }

    /// <summary>How the weights are stored.</summary>
    public ModelFormat Format { get; }

    /// <summary>Diffusion or autoregressive.</summary>
    public ModelKind Kind { get; }

    /// <summary>The sampling steps a distilled SDTT student records; null for other models.</summary>
    public int? SamplingSteps { get; }

    /// <summary>
    /// Resolves <paramref name="source"/>: an existing file is a checkpoint, an existing folder a Hugging Face model folder,
    /// anything else of the form <c>org/name[@revision]</c> a repository in the Hugging Face cache at
    /// <paramref name="hubCache"/> (<see cref="HuggingFaceCache.DefaultRoot"/> when null).
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing is found; the message names what was searched.</exception>
    /// <exception cref="InvalidDataException">A file or <c>config.json</c> is not a model this library reads.</exception>
    public static ModelSource Resolve(string source, string? hubCache = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        if (File.Exists(source)) return OfCheckpoint(source, source);
        if (Directory.Exists(source)) return OfFolder(source, source);
        if (!HuggingFaceCache.IsRepoId(source))
            throw new FileNotFoundException($"'{source}' does not exist: give a checkpoint file, a Hugging Face model folder " +
                "or a Hugging Face repository id (org/name) in the local cache.", source);
        try
        {
            return OfFolder(source, HuggingFaceCache.FindSnapshot(source, hubCache));
        }
        catch (DirectoryNotFoundException e)
        {
            throw new FileNotFoundException($"'{source}' is neither a file nor a folder, and as a repository id: {e.Message}", source, e);
        }
    }

    /// <summary>Loads the diffusion model (a checkpoint's EMA weights unless <paramref name="useEma"/> is false).</summary>
    /// <exception cref="InvalidOperationException">The source holds an autoregressive model.</exception>
    public Dit LoadDiffusion(Device device, bool useEma = true)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (Kind != ModelKind.Diffusion)
            throw new InvalidOperationException($"'{Given}' holds an autoregressive (GPT) model, not a diffusion model.");
        return Format == ModelFormat.Checkpoint
            ? MdlmCheckpoint.LoadModel(Path, device, useEma)
            : HuggingFaceImport.Load(Path, device);
    }

    /// <summary>Loads the autoregressive model (a checkpoint's EMA weights unless <paramref name="useEma"/> is false).</summary>
    /// <exception cref="InvalidOperationException">The source holds a diffusion model.</exception>
    public Gpt LoadGpt(Device device, bool useEma = true)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (Kind != ModelKind.Autoregressive)
            throw new InvalidOperationException($"'{Given}' holds a diffusion model, not an autoregressive (GPT) model.");
        return Format == ModelFormat.Checkpoint
            ? GptCheckpoint.LoadModel(Path, device, useEma)
            : GptHuggingFace.Load(Path, device);
    }

    private static ModelSource OfCheckpoint(string given, string path)
    {
        string? format;
        using (var reader = SafetensorsReader.Open(path)) format = reader.Metadata.GetValueOrDefault("format");
        return format == GptCheckpointHeader.Format
            ? new ModelSource(given, path, ModelFormat.Checkpoint, ModelKind.Autoregressive, null)
            : new ModelSource(given, path, ModelFormat.Checkpoint, ModelKind.Diffusion,
                DistillationCheckpoint.TryReadState(path)?.SamplingSteps);
    }

    private static ModelSource OfFolder(string given, string folder)
    {
        string config = System.IO.Path.Combine(folder, HuggingFaceConfig.FileName);
        if (!File.Exists(config))
            throw new FileNotFoundException($"'{folder}' is a folder without {HuggingFaceConfig.FileName}: not a Hugging Face model.",
                config);
        return IsGpt(config)
            ? new ModelSource(given, folder, ModelFormat.HuggingFaceFolder, ModelKind.Autoregressive, null)
            : new ModelSource(given, folder, ModelFormat.HuggingFaceFolder, ModelKind.Diffusion,
                HuggingFaceConfig.ReadSamplingSteps(config));
    }

    /// <summary>A GPT-2 config names its model type <c>gpt2</c> or, in older files, only its GPT-2 keys (<c>n_embd</c>).</summary>
    private static bool IsGpt(string config) => ConfigJson.Read(config, json =>
    {
        JsonObject root = ConfigJson.Root(json);
        return root["model_type"] is JsonValue type ? type.ToString() == "gpt2" : root["n_embd"] is not null;
    });
}
