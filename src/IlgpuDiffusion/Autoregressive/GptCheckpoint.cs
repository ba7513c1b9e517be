using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Model.Safetensors;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Autoregressive;

/// <summary>
/// The training checkpoint of a <see cref="Gpt"/>, laid out as the MDLM <see cref="Checkpoint"/>: one safetensors file
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
        var writer = new SafetensorsWriter();
        foreach (var (key, value) in header.ToMetadata()) writer.Metadata[key] = value;
        foreach (var (key, tensor) in Tensors(parameters, ema, firstMoment, secondMoment))
            writer.Add(key, tensor, Dimensions(tensor.Shape));
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        writer.Write(path);
    }

    /// <summary>Reads only the header of the checkpoint at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is damaged or not a GPT training checkpoint.</exception>
    public static GptCheckpointHeader ReadHeader(string path)
    {
        using var reader = SafetensorsReader.Open(path);
        return GptCheckpointHeader.FromMetadata(path, reader.Metadata);
    }

    /// <summary>
    /// Loads a checkpoint into the tensors of a run with configs <paramref name="model"/> and <paramref name="training"/>
    /// after checking it was made by a compatible run: the same model, batch size, accumulation and seed.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is damaged, not a GPT training checkpoint, or made by an incompatible run.</exception>
    public static GptCheckpointHeader Load(string path, GptConfig model, TrainingConfig training, GptParameters parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        using var reader = SafetensorsReader.Open(path);
        var header = GptCheckpointHeader.FromMetadata(path, reader.Metadata);
        var differences = CheckpointHeader.Differences(model, header.Model, "this run", "checkpoint").ToList();
        if (header.Training.BatchSize != training.BatchSize)
            differences.Add($"{nameof(TrainingConfig.BatchSize)}: this run {training.BatchSize}, checkpoint {header.Training.BatchSize}");
        if (header.Training.GradientAccumulationSteps != training.GradientAccumulationSteps)
            differences.Add($"{nameof(TrainingConfig.GradientAccumulationSteps)}: this run {training.GradientAccumulationSteps}, checkpoint {header.Training.GradientAccumulationSteps}");
        if (header.Training.Seed != training.Seed)
            differences.Add($"{nameof(TrainingConfig.Seed)}: this run {training.Seed}, checkpoint {header.Training.Seed}");
        if (differences.Count > 0)
            throw new InvalidDataException($"'{path}' was made by an incompatible run: {string.Join("; ", differences)}. Resume with the checkpoint's model and settings.");
        var tensors = Tensors(parameters, ema, firstMoment, secondMoment).ToArray();
        foreach (var (key, tensor) in tensors) CheckTensor(path, reader.GetInfo(key), tensor); // before reading any
        foreach (var (key, tensor) in tensors) reader.ReadFloats(key, tensor);
        return header;
    }

    /// <summary>Builds the model a checkpoint holds and loads its EMA weights (<paramref name="useEma"/>) or raw weights.</summary>
    /// <exception cref="InvalidDataException">The file is damaged or not a GPT training checkpoint.</exception>
    public static Gpt LoadModel(string path, Device device, bool useEma = true, bool withGradients = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        using var reader = SafetensorsReader.Open(path);
        var header = GptCheckpointHeader.FromMetadata(path, reader.Metadata);
        var model = new Gpt(header.Model, device, withGradients);
        try
        {
            string prefix = useEma ? Checkpoint.EmaPrefix : Checkpoint.ModelPrefix;
            foreach (var (name, _) in model.Parameters.Entries)
            {
                CheckTensor(path, reader.GetInfo(prefix + name), model.Parameters[name]);
                reader.ReadFloats(prefix + name, model.Parameters[name]);
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void CheckTensor(string path, SafetensorsTensorInfo info, Tensor<float> tensor)
    {
        if (info.Dtype != SafetensorsDtype.F32 || !info.Shape.SequenceEqual(Dimensions(tensor.Shape)))
            throw new InvalidDataException($"Tensor '{info.Name}' in '{path}' is {info.Dtype} {info.ShapeText}; the model needs " +
                $"F32 {SafetensorsTensorInfo.FormatShape(Dimensions(tensor.Shape))}.");
    }

    /// <summary>Every stored tensor with its key: the four groups, each in the parameters' module order.</summary>
    private static IEnumerable<(string Key, Tensor<float> Tensor)> Tensors(GptParameters parameters, Tensor<float> ema,
        Tensor<float> firstMoment, Tensor<float> secondMoment)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var (tensor, what) in new[] { (ema, "EMA"), (firstMoment, "first moment"), (secondMoment, "second moment") })
            if (tensor.Length != parameters.All.Length)
                throw new ArgumentException($"The {what} holds {tensor.Length} elements; the parameter arena holds {parameters.All.Length}.");
        var groups = new[] { (Checkpoint.ModelPrefix, parameters.All), (Checkpoint.EmaPrefix, ema),
            (Checkpoint.FirstMomentPrefix, firstMoment), (Checkpoint.SecondMomentPrefix, secondMoment) };
        foreach (var (prefix, buffer) in groups)
            foreach (var (name, _) in parameters.Entries)
            {
                var parameter = parameters[name];
                yield return (prefix + name, new Tensor<float>(buffer.Buffer, buffer.Offset + parameter.Offset, parameter.Shape));
            }
    }

    private static long[] Dimensions(Shape shape) => Enumerable.Range(0, shape.Rank).Select(i => (long)shape[i]).ToArray();
}
