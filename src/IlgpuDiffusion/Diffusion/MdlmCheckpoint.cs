using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// The MDLM training checkpoint (also the base of a <see cref="Distillation.DistillationCheckpoint"/>): one safetensors
/// file holding, for every named parameter tensor <c>N</c> of the model, <c>model.N</c> (the raw weights), <c>ema.N</c>,
/// <c>adam_m.N</c> and <c>adam_v.N</c>, with the model config, training config and <see cref="TrainingState"/> as JSON
/// metadata (<see cref="MdlmCheckpointHeader"/>).
/// The file is written to a temporary name and renamed, so a crash never leaves half a checkpoint. Restoring
/// the tensors and state gives bit-for-bit the same continuation on the CPU backend.
/// </summary>
public static class MdlmCheckpoint
{
    /// <summary>
    /// Writes a checkpoint. <paramref name="ema"/> and the moments are laid out like the whole parameter arena
    /// (same offsets), as <see cref="Ema"/> and <see cref="ClippedAdamW"/> allocate them.
    /// </summary>
    /// <param name="extraGroups">Further weight sets laid out like the parameter arena, stored under their own prefix
    /// (e.g. a distillation teacher).</param>
    /// <param name="extraMetadata">Further metadata entries (keys other than the header's).</param>
    public static void Save(string path, MdlmCheckpointHeader header, DitParameters parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment,
        IReadOnlyList<(string Prefix, Tensor<float> Weights)>? extraGroups = null,
        IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        CheckpointTensors.Save(path, header.ToMetadata(), parameters, ema, firstMoment, secondMoment, extraGroups, extraMetadata);
    }

    /// <summary>
    /// Writes a weights-only checkpoint: the header with <paramref name="ema"/> alone (laid out like the parameter arena), which
    /// <see cref="LoadModel"/> reads for sampling and evaluation and <see cref="Load"/> refuses to resume.
    /// </summary>
    /// <param name="extraMetadata">Further metadata entries (keys other than the header's).</param>
    public static void SaveWeights(string path, MdlmCheckpointHeader header, DitParameters parameters, Tensor<float> ema,
        IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        CheckpointTensors.SaveWeights(path, header.ToMetadata(), parameters, ema, extraMetadata);
    }

    /// <summary>Whether the checkpoint at <paramref name="path"/> holds its EMA weights alone (no state to resume).</summary>
    public static bool IsWeightsOnly(string path)
    {
        using var reader = SafetensorsReader.Open(path);
        return CheckpointTensors.IsWeightsOnly(reader.Metadata);
    }

    /// <summary>Reads only the header of the checkpoint at <paramref name="path"/> (e.g. to build the model it needs).</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a safetensors file, or not a training checkpoint.</exception>
    public static MdlmCheckpointHeader ReadHeader(string path)
    {
        using var reader = SafetensorsReader.Open(path);
        return HeaderOf(reader);
    }

    /// <summary>
    /// Loads a checkpoint into the tensors of a run whose configs are <paramref name="model"/> and
    /// <paramref name="training"/>, after checking that the checkpoint was made by a compatible run: the same model
    /// config, and the same batch size, accumulation and seed (which fix the data order and random streams). The
    /// learning rate, schedule, intervals and step budget may differ. Returns the checkpoint's header.
    /// </summary>
    /// <param name="extraGroups">Further weight sets stored by <see cref="Save"/> under their prefixes, read as well.</param>
    /// <exception cref="InvalidDataException">The file is damaged, not a training checkpoint, or made by an
    /// incompatible run; the message says which setting or tensor differs.</exception>
    public static MdlmCheckpointHeader Load(string path, DitConfig model, TrainingConfig training, DitParameters parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment,
        IReadOnlyList<(string Prefix, Tensor<float> Weights)>? extraGroups = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(parameters);
        using var reader = SafetensorsReader.Open(path);
        MdlmCheckpointHeader header = HeaderOf(reader);
        CheckpointMetadata.CheckResumable(path, model, header.Model, training, header.Training, "MdlmCheckpoint.ReadHeader");
        CheckpointTensors.Load(reader, path, parameters, ema, firstMoment, secondMoment, extraGroups);
        return header;
    }

    /// <summary>
    /// Builds the model a checkpoint holds (its own config) and loads its EMA weights (<paramref name="useEma"/>,
    /// the weights to evaluate and sample from) or its raw weights, e.g. to sample, evaluate or distill from it.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is damaged or not a training checkpoint.</exception>
    public static Dit LoadModel(string path, Device device, bool useEma = true, bool withGradients = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        using var reader = SafetensorsReader.Open(path);
        MdlmCheckpointHeader header = HeaderOf(reader);
        return LoadedModel.Fill(new Dit(header.Model, device, withGradients),
            m => CheckpointTensors.LoadWeights(reader, path, m.Parameters, useEma));
    }

    /// <summary>The header of the open checkpoint, after checking that its tensors could hold the model its config describes.</summary>
    private static MdlmCheckpointHeader HeaderOf(SafetensorsReader reader)
    {
        MdlmCheckpointHeader header = MdlmCheckpointHeader.FromMetadata(reader.Path, reader.Metadata);
        DitConfig c = header.Model;
        CheckpointTensors.CheckHoldsModel(reader, c.ParameterCount(),
            $"Layers {c.Layers}, Hidden {c.Hidden}, Heads {c.Heads}, CondDim {c.CondDim}, Vocab {c.Vocab}");
        return header;
    }
}
