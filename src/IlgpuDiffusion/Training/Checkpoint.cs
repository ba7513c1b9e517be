using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Model;
using IlgpuDiffusion.Model.Safetensors;

namespace IlgpuDiffusion.Training;

/// <summary>
/// The library's own training checkpoint: one safetensors file holding, for every named parameter tensor
/// <c>N</c> of the model, <c>model.N</c> (the raw weights), <c>ema.N</c>, <c>adam_m.N</c> and <c>adam_v.N</c>, with
/// the model config, training config and <see cref="TrainingState"/> as JSON metadata (<see cref="CheckpointHeader"/>).
/// The file is written to a temporary name and renamed, so a crash never leaves half a checkpoint. Restoring
/// the tensors and state gives bit-for-bit the same continuation on the CPU backend.
/// </summary>
public static class Checkpoint
{
    /// <summary>Name prefixes of the four tensor groups.</summary>
    public const string ModelPrefix = "model.", EmaPrefix = "ema.", FirstMomentPrefix = "adam_m.", SecondMomentPrefix = "adam_v.";

    /// <summary>
    /// Writes a checkpoint. <paramref name="ema"/> and the moments are laid out like the whole parameter arena
    /// (same offsets), as <see cref="Ema"/> and <see cref="ClippedAdamW"/> allocate them.
    /// </summary>
    /// <param name="extraGroups">Further weight sets laid out like the parameter arena, stored under their own prefix (e.g. a distillation teacher).</param>
    /// <param name="extraMetadata">Further metadata entries (keys other than the header's).</param>
    public static void Save(string path, CheckpointHeader header, DitParameters parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment,
        IReadOnlyList<(string Prefix, Tensor<float> Weights)>? extraGroups = null,
        IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(parameters);
        var writer = new SafetensorsWriter();
        foreach (var (key, value) in header.ToMetadata()) writer.Metadata[key] = value;
        foreach (var (key, value) in extraMetadata ?? new Dictionary<string, string>())
            if (!writer.Metadata.TryAdd(key, value))
                throw new ArgumentException($"Metadata key '{key}' is the checkpoint header's own.", nameof(extraMetadata));
        foreach (var (key, tensor) in Tensors(parameters, ema, firstMoment, secondMoment, extraGroups))
            writer.Add(key, tensor, Dimensions(tensor.Shape));
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        writer.Write(path);
    }

    /// <summary>Reads only the header of the checkpoint at <paramref name="path"/> (e.g. to build the model it needs).</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a safetensors file, or not a training checkpoint.</exception>
    public static CheckpointHeader ReadHeader(string path)
    {
        using var reader = SafetensorsReader.Open(path);
        return CheckpointHeader.FromMetadata(path, reader.Metadata);
    }

    /// <summary>
    /// Loads a checkpoint into the tensors of a run whose configs are <paramref name="model"/> and
    /// <paramref name="training"/>, after checking that the checkpoint was made by a compatible run: the same model
    /// config, and the same batch size, accumulation and seed (which fix the data order and random streams). The
    /// learning rate, schedule, intervals and step budget may differ. Returns the checkpoint's header.
    /// </summary>
    /// <param name="extraGroups">Further weight sets stored by <see cref="Save"/> under their prefixes, read as well.</param>
    /// <exception cref="InvalidDataException">The file is damaged, not a training checkpoint, or made by an incompatible run; the message says which setting or tensor differs.</exception>
    public static CheckpointHeader Load(string path, DitConfig model, TrainingConfig training, DitParameters parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment,
        IReadOnlyList<(string Prefix, Tensor<float> Weights)>? extraGroups = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(parameters);
        using var reader = SafetensorsReader.Open(path);
        CheckpointHeader header = CheckpointHeader.FromMetadata(path, reader.Metadata);
        CheckCompatible(path, header, model, training);
        var tensors = Tensors(parameters, ema, firstMoment, secondMoment, extraGroups).ToArray();
        // Check every tensor before reading any, so that a bad file leaves the run's tensors untouched.
        foreach (var (key, tensor) in tensors)
        {
            SafetensorsTensorInfo info = reader.GetInfo(key);
            if (info.Dtype != SafetensorsDtype.F32 || !info.Shape.SequenceEqual(Dimensions(tensor.Shape)))
                throw new InvalidDataException($"Tensor '{key}' in '{path}' is {info.Dtype} {info.ShapeText}; the model needs " +
                    $"F32 {SafetensorsTensorInfo.FormatShape(Dimensions(tensor.Shape))}.");
        }
        foreach (var (key, tensor) in tensors) reader.ReadFloats(key, tensor);
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
        CheckpointHeader header = CheckpointHeader.FromMetadata(path, reader.Metadata);
        var model = new Dit(header.Model, device, withGradients);
        try
        {
            string prefix = useEma ? EmaPrefix : ModelPrefix;
            foreach (var (name, _) in model.Parameters.Entries)
            {
                Tensor<float> tensor = model.Parameters[name];
                SafetensorsTensorInfo info = reader.GetInfo(prefix + name);
                if (info.Dtype != SafetensorsDtype.F32 || !info.Shape.SequenceEqual(Dimensions(tensor.Shape)))
                    throw new InvalidDataException($"Tensor '{prefix + name}' in '{path}' is {info.Dtype} {info.ShapeText}; its model config needs " +
                        $"F32 {SafetensorsTensorInfo.FormatShape(Dimensions(tensor.Shape))}.");
                reader.ReadFloats(prefix + name, tensor);
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void CheckCompatible(string path, CheckpointHeader header, DitConfig model, TrainingConfig training)
    {
        IReadOnlyList<string> differences = CheckpointHeader.Differences(model, header.Model, "this run", "checkpoint");
        if (differences.Count > 0)
            throw new InvalidDataException($"'{path}' holds another model than this run builds: {string.Join("; ", differences)}. " +
                "Build the model from the checkpoint's config (Checkpoint.ReadHeader) to resume it.");
        var mismatches = new List<string>();
        if (header.Training.BatchSize != training.BatchSize)
            mismatches.Add($"{nameof(TrainingConfig.BatchSize)}: this run {training.BatchSize}, checkpoint {header.Training.BatchSize}");
        if (header.Training.GradientAccumulationSteps != training.GradientAccumulationSteps)
            mismatches.Add($"{nameof(TrainingConfig.GradientAccumulationSteps)}: this run {training.GradientAccumulationSteps}, checkpoint {header.Training.GradientAccumulationSteps}");
        if (header.Training.Seed != training.Seed)
            mismatches.Add($"{nameof(TrainingConfig.Seed)}: this run {training.Seed}, checkpoint {header.Training.Seed}");
        if (mismatches.Count > 0)
            throw new InvalidDataException($"'{path}' was trained with other settings that fix the data order and random streams: " +
                $"{string.Join("; ", mismatches)}. Resume with the checkpoint's settings.");
    }

    /// <summary>Every stored tensor with its key: the four groups and any extra ones, each in the parameters' module order.</summary>
    private static IEnumerable<(string Key, Tensor<float> Tensor)> Tensors(DitParameters parameters, Tensor<float> ema,
        Tensor<float> firstMoment, Tensor<float> secondMoment, IReadOnlyList<(string Prefix, Tensor<float> Weights)>? extraGroups)
    {
        var groups = new List<(string Prefix, Tensor<float> Weights)>
        {
            (ModelPrefix, parameters.All), (EmaPrefix, ema), (FirstMomentPrefix, firstMoment), (SecondMomentPrefix, secondMoment),
        };
        groups.AddRange(extraGroups ?? []);
        if (groups.Select(g => g.Prefix).Distinct().Count() != groups.Count)
            throw new ArgumentException($"Tensor group prefixes must be distinct; got {string.Join(", ", groups.Select(g => g.Prefix))}.", nameof(extraGroups));
        foreach (var (prefix, tensor) in groups.Skip(1))
            if (tensor.Length != parameters.All.Length)
                throw new ArgumentException($"The '{prefix}' weights hold {tensor.Length} elements; the parameter arena holds {parameters.All.Length}.");
        foreach (var (prefix, buffer) in groups)
            foreach (var (name, _) in parameters.Entries)
                yield return (prefix + name, SameLayout(parameters[name], buffer));
    }

    /// <summary>The view of <paramref name="buffer"/> at the same place in its arena-shaped layout as <paramref name="parameter"/>.</summary>
    private static Tensor<float> SameLayout(Tensor<float> parameter, Tensor<float> buffer) =>
        new(buffer.Buffer, buffer.Offset + parameter.Offset, parameter.Shape);

    private static long[] Dimensions(Shape shape)
    {
        var dimensions = new long[shape.Rank];
        for (int axis = 0; axis < shape.Rank; axis++) dimensions[axis] = shape[axis];
        return dimensions;
    }
}
