using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// The metadata of a training checkpoint: format tag, model and training configs and the training state, each
/// stored as JSON text under its own key of the safetensors <c>__metadata__</c> map.
/// </summary>
/// <param name="Model">The model's shape.</param>
/// <param name="Training">The run's settings.</param>
/// <param name="State">Counters and data position.</param>
public sealed record MdlmCheckpointHeader(DitConfig Model, TrainingConfig Training, TrainingState State)
{
    /// <summary>Value of the <c>format</c> metadata key.</summary>
    public const string Format = "ilgpu-diffusion.mdlm-training-checkpoint";

    /// <summary>Value of the <c>format_version</c> metadata key this library writes and reads.</summary>
    public const int Version = 1;

    /// <summary>The metadata entries.</summary>
    public Dictionary<string, string> ToMetadata() => CheckpointMetadata.ForTraining(Format, Version, Model, Training, State);

    /// <summary>Parses the metadata of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a training checkpoint of this version, or an entry is malformed
    /// or holds a config the model or trainer refuses.</exception>
    public static MdlmCheckpointHeader FromMetadata(string path, IReadOnlyDictionary<string, string> metadata)
    {
        var (model, training, state) = CheckpointMetadata.ReadTraining<DitConfig>(path, metadata, Format, Version, m => m.Validate(),
            "training checkpoint", "published weights");
        return new MdlmCheckpointHeader(model, training, state);
    }
}
