using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;

namespace IlgpuDiffusion.Training;

/// <summary>
/// The tensor side of every training checkpoint, whatever the model: for every named parameter tensor <c>N</c>,
/// <c>model.N</c> (the raw weights), <c>ema.N</c>, <c>adam_m.N</c>, <c>adam_v.N</c> and any extra group's
/// <c>prefix.N</c>, each a view at the parameter's place in an arena-shaped buffer; a weights-only checkpoint
/// (<see cref="WeightsOnlyKey"/>) holds the <c>ema.N</c> group alone, with the same metadata, for sampling and evaluation.
/// Files are written to a temporary name and renamed; loads check every tensor before reading any, so a bad file leaves the
/// run's tensors untouched.
/// </summary>
internal static class CheckpointTensors
{
    /// <summary>Name prefixes of the four tensor groups.</summary>
    public const string ModelPrefix = "model.", EmaPrefix = "ema.", FirstMomentPrefix = "adam_m.", SecondMomentPrefix = "adam_v.";

    /// <summary>The metadata key (value <c>true</c>) of a checkpoint that holds the EMA weights alone.</summary>
    public const string WeightsOnlyKey = "weights_only";

    /// <summary>Whether the checkpoint with <paramref name="metadata"/> holds the EMA weights alone.</summary>
    public static bool IsWeightsOnly(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(WeightsOnlyKey, out string? value) && value == "true";

    /// <summary>
    /// Writes <paramref name="metadata"/> (and <paramref name="extraMetadata"/>) with the EMA weights alone to
    /// <paramref name="path"/>, creating its folder: what sampling and evaluation need, a quarter or less of a full checkpoint.
    /// </summary>
    public static void SaveWeights<TConfig>(string path, IReadOnlyDictionary<string, string> metadata,
        NamedParameters<TConfig> parameters, Tensor<float> ema, IReadOnlyDictionary<string, string>? extraMetadata = null)
        where TConfig : notnull
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var writer = new SafetensorsWriter();
        foreach (var (key, value) in metadata.Concat(extraMetadata ?? new Dictionary<string, string>()))
            writer.Metadata[key] = value;
        writer.Metadata[WeightsOnlyKey] = "true";
        foreach (var (name, _) in parameters.Entries)
        {
            Tensor<float> view = SameLayout(parameters[name], ema);
            writer.Add(EmaPrefix + name, view, Dimensions(view.Shape));
        }
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        writer.Write(path);
    }

    /// <summary>Writes <paramref name="metadata"/> and the tensor groups to <paramref name="path"/>, creating its folder.</summary>
    /// <param name="extraMetadata">Further metadata entries (keys other than <paramref name="metadata"/>'s).</param>
    public static void Save<TConfig>(string path, IReadOnlyDictionary<string, string> metadata, NamedParameters<TConfig> parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment,
        IReadOnlyList<(string Prefix, Tensor<float> Weights)>? extraGroups = null,
        IReadOnlyDictionary<string, string>? extraMetadata = null) where TConfig : notnull
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var writer = new SafetensorsWriter();
        foreach (var (key, value) in metadata) writer.Metadata[key] = value;
        foreach (var (key, value) in extraMetadata ?? new Dictionary<string, string>())
            if (!writer.Metadata.TryAdd(key, value))
                throw new ArgumentException($"Metadata key '{key}' is the checkpoint header's own.", nameof(extraMetadata));
        foreach (var (key, tensor) in Groups(parameters, ema, firstMoment, secondMoment, extraGroups))
            writer.Add(key, tensor, Dimensions(tensor.Shape));
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        writer.Write(path);
    }

    /// <summary>Reads every tensor group from <paramref name="reader"/> after checking all their dtypes, shapes and values.</summary>
    /// <exception cref="InvalidDataException">The checkpoint holds weights only, or a tensor is missing, has another dtype or
    /// shape, or holds a value that is not finite.</exception>
    public static void Load<TConfig>(SafetensorsReader reader, string path, NamedParameters<TConfig> parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment,
        IReadOnlyList<(string Prefix, Tensor<float> Weights)>? extraGroups = null) where TConfig : notnull
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(reader);
        if (IsWeightsOnly(reader.Metadata)) throw new InvalidDataException(WeightsOnlyMessage(path));
        var tensors = Groups(parameters, ema, firstMoment, secondMoment, extraGroups).ToArray();
        foreach (var (key, tensor) in tensors) Check(reader, path, key, tensor);
        foreach (var (key, _) in tensors) reader.CheckValues(key);
        foreach (var (key, tensor) in tensors) reader.ReadFloats(key, tensor);
    }

    /// <summary>
    /// Fills <paramref name="parameters"/> (of a model just built from the checkpoint's own config) with the EMA weights
    /// (<paramref name="useEma"/>) or the raw weights of the checkpoint.
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor is missing, has another dtype or shape, or holds a value that is not
    /// finite.</exception>
    public static void LoadWeights<TConfig>(SafetensorsReader reader, string path, NamedParameters<TConfig> parameters, bool useEma)
        where TConfig : notnull
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (!useEma && IsWeightsOnly(reader.Metadata))
            throw new InvalidDataException($"'{path}' holds the EMA weights only, not the raw ones; load its EMA weights.");
        string prefix = useEma ? EmaPrefix : ModelPrefix;
        foreach (var (name, _) in parameters.Entries)
        {
            Tensor<float> tensor = parameters[name];
            Check(reader, path, prefix + name, tensor);
            reader.ReadFloats(prefix + name, tensor);
        }
    }

    /// <summary>
    /// Throws unless the checkpoint's tensors could hold one F32 copy of a model of <paramref name="parameterCount"/>
    /// parameters, before a model of the size its metadata describes (<paramref name="sizes"/>) is built.
    /// </summary>
    /// <exception cref="InvalidDataException">The tensors are too few for the model config.</exception>
    public static void CheckHoldsModel(SafetensorsReader reader, long parameterCount, string sizes) =>
        LoadedModel.CheckWeightsFit(reader, parameterCount, sizeof(float),
            $"The '{CheckpointMetadata.ModelKey}' metadata entry of '{reader.Path}' ({sizes})");

    /// <summary>Why a weights-only checkpoint cannot be resumed, and the resumable checkpoint beside it when there is one.</summary>
    private static string WeightsOnlyMessage(string path)
    {
        string instead;
        try
        {
            instead = $"resume from '{StepCheckpoints.Latest(path)}', the last step-numbered checkpoint beside it";
        }
        catch (FileNotFoundException)
        {
            instead = "resume from a step-numbered checkpoint of its run, or save the final checkpoint with its optimizer state";
        }
        return $"'{path}' holds weights only (the EMA weights for sampling and evaluation, no optimizer state); {instead}.";
    }

    private static void Check(SafetensorsReader reader, string path, string key, Tensor<float> tensor)
    {
        SafetensorsTensorInfo info = reader.GetInfo(key);
        if (info.Dtype != SafetensorsDtype.F32 || !info.Shape.SequenceEqual(Dimensions(tensor.Shape)))
            throw new InvalidDataException($"Tensor '{key}' in '{path}' is {info.Dtype} {info.ShapeText}; the model needs " +
                $"F32 {SafetensorsTensorInfo.FormatShape(Dimensions(tensor.Shape))}.");
    }

    /// <summary>Every stored tensor with its key: the four groups and any extra ones, each in the parameters' module order.</summary>
    private static IEnumerable<(string Key, Tensor<float> Tensor)> Groups<TConfig>(NamedParameters<TConfig> parameters,
        Tensor<float> ema, Tensor<float> firstMoment, Tensor<float> secondMoment,
        IReadOnlyList<(string Prefix, Tensor<float> Weights)>? extraGroups) where TConfig : notnull
    {
        var groups = new List<(string Prefix, Tensor<float> Weights)>
        {
            (ModelPrefix, parameters.All), (EmaPrefix, ema),
            (FirstMomentPrefix, firstMoment), (SecondMomentPrefix, secondMoment),
        };
        groups.AddRange(extraGroups ?? []);
        if (groups.Select(g => g.Prefix).Distinct().Count() != groups.Count)
            throw new ArgumentException($"Tensor group prefixes must be distinct; got {string.Join(", ", groups.Select(g => g.Prefix))}.",
                nameof(extraGroups));
        foreach (var (prefix, tensor) in groups.Skip(1))
            if (tensor.Length != parameters.All.Length)
                throw new ArgumentException($"The '{prefix}' weights hold {tensor.Length} elements; " +
                    $"the parameter arena holds {parameters.All.Length}.");
        foreach (var (prefix, buffer) in groups)
            foreach (var (name, _) in parameters.Entries)
                yield return (prefix + name, SameLayout(parameters[name], buffer));
    }

    /// <summary>
    /// The view of <paramref name="buffer"/> at the same place in its arena-shaped layout as <paramref name="parameter"/>.
    /// </summary>
    private static Tensor<float> SameLayout(Tensor<float> parameter, Tensor<float> buffer) =>
        new(buffer.Buffer, buffer.Offset + parameter.Offset, parameter.Shape);

    private static long[] Dimensions(Shape shape)
    {
        var dimensions = new long[shape.Rank];
        for (int axis = 0; axis < shape.Rank; axis++) dimensions[axis] = shape[axis];
        return dimensions;
    }
}
