using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Autoregressive;

/// <summary>
/// The training checkpoint of a <see cref="Gpt"/>, laid out as the MDLM <see cref="MdlmCheckpoint"/>: one safetensors file
/// with <c>model.N</c>, <c>ema.N</c>, <c>adam_m.N</c> and <c>adam_v.N</c> for every parameter tensor N (our layouts) and
/// a <see cref="GptCheckpointHeader"/> as metadata, written to a temporary name and renamed. Restoring the tensors and
/// state gives bit-for-bit the same continuation on the CPU backend.
/// </summary>
public static class GptCheckpoint
{
    /// <summary>Writes a checkpoint; <paramref name="ema"/> and the moments are laid out like the whole parameter arena.</summary>
    public static void Save(string path, GptCheckpointHeader header, GptParameters parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment)
    {
        ArgumentNullException.ThrowIfNull(header);
        CheckpointTensors.Save(path, header.ToMetadata(), parameters, ema, firstMoment, secondMoment);
    }

    /// <summary>Reads only the header of the checkpoint at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is damaged or not a GPT training checkpoint.</exception>
    public static GptCheckpointHeader ReadHeader(string path)
    {
        using var reader = SafetensorsReader.Open(path);
        return HeaderOf(reader);
    }

    /// <summary>
    /// Loads a checkpoint into the tensors of a run with configs <paramref name="model"/> and <paramref name="training"/>
    /// after checking it was made by a compatible run: the same model, batch size, accumulation and seed.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is damaged, not a GPT training checkpoint, or made by an
    /// incompatible run.</exception>
    public static GptCheckpointHeader Load(string path, GptConfig model, TrainingConfig training, GptParameters parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        using var reader = SafetensorsReader.Open(path);
        var header = HeaderOf(reader);
        CheckpointMetadata.CheckResumable(path, model, header.Model, training, header.Training, "GptCheckpoint.ReadHeader");
        CheckpointTensors.Load(reader, path, parameters, ema, firstMoment, secondMoment);
        return header;
    }

    /// <summary>Builds the model a checkpoint holds and loads its EMA weights (<paramref name="useEma"/>) or raw weights.</summary>
    /// <exception cref="InvalidDataException">The file is damaged or not a GPT training checkpoint.</exception>
    public static Gpt LoadModel(string path, Device device, bool useEma = true, bool withGradients = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        using var reader = SafetensorsReader.Open(path);
        var header = HeaderOf(reader);
        return LoadedModel.Fill(new Gpt(header.Model, device, withGradients),
            m => CheckpointTensors.LoadWeights(reader, path, m.Parameters, useEma));
    }

    /// <summary>The header of the open checkpoint, after checking that its tensors could hold the model its config describes.</summary>
    private static GptCheckpointHeader HeaderOf(SafetensorsReader reader)
    {
        var header = GptCheckpointHeader.FromMetadata(reader.Path, reader.Metadata);
        GptConfig c = header.Model;
        CheckpointTensors.CheckHoldsModel(reader, c.ParameterCount(),
            $"Layers {c.Layers}, Hidden {c.Hidden}, Heads {c.Heads}, Vocab {c.Vocab}, Length {c.Length}");
        return header;
    }
}
