using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// A distillation checkpoint is a training checkpoint (<see cref="MdlmCheckpoint"/>: the student's raw weights, its EMA
/// and Adam moments, the optimizer config and training state), so that <see cref="MdlmCheckpoint.LoadModel"/> samples
/// from it, plus the frozen teacher under <see cref="TeacherPrefix"/> and two metadata entries: the
/// <see cref="DistillationConfig"/> and the <see cref="DistillationState"/>.
/// </summary>
public static class DistillationCheckpoint
{
    /// <summary>Name prefix of the teacher's weights.</summary>
    public const string TeacherPrefix = "teacher.";

    /// <summary>Metadata keys of the config and state.</summary>
    public const string ConfigKey = "distillation_config", StateKey = "distillation_state";

    /// <summary>The metadata entries of <paramref name="config"/> and <paramref name="state"/>.</summary>
    public static Dictionary<string, string> Metadata(DistillationConfig config, DistillationState state) => new()
    {
        [ConfigKey] = CheckpointMetadata.Serialize(config),
        [StateKey] = CheckpointMetadata.Serialize(state),
    };

    /// <summary>Reads the distillation config and state of the checkpoint at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is damaged or not a distillation checkpoint.</exception>
    public static (DistillationConfig Config, DistillationState State) Read(string path)
    {
        using var reader = SafetensorsReader.Open(path);
        return (Parse<DistillationConfig>(path, reader.Metadata, ConfigKey), Parse<DistillationState>(path, reader.Metadata, StateKey));
    }

    /// <summary>
    /// The distillation state of the checkpoint at <paramref name="path"/>, or null when it is a checkpoint of another kind (a
    /// trained teacher): what <c>sample</c> and <c>info</c> read to find the sampling steps a student was distilled for.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is damaged, or its distillation state is.</exception>
    public static DistillationState? TryReadState(string path)
    {
        using var reader = SafetensorsReader.Open(path);
        return reader.Metadata.ContainsKey(StateKey) ? Parse<DistillationState>(path, reader.Metadata, StateKey) : null;
    }

    /// <summary>
    /// Throws unless a checkpoint made with <paramref name="saved"/> can continue under <paramref name="config"/>: the
    /// initial sampling steps, round length, teacher steps and time grid fix the targets and rounds. The optimizer
    /// batch and seed are checked by <see cref="MdlmCheckpoint.Load"/>; the divergence, learning rate and the rest may change.
    /// </summary>
    /// <exception cref="InvalidDataException">A setting that fixes the run differs; the message names it.</exception>
    public static void CheckCompatible(string path, DistillationConfig saved, DistillationConfig config)
    {
        var mismatches = new List<string>();
        void Compare<T>(string name, T mine, T theirs)
        {
            if (!EqualityComparer<T>.Default.Equals(mine, theirs)) mismatches.Add($"{name}: this run {mine}, checkpoint {theirs}");
        }
        Compare(nameof(config.InitialSamplingSteps), config.InitialSamplingSteps, saved.InitialSamplingSteps);
        Compare(nameof(config.StepsPerRound), config.StepsPerRound, saved.StepsPerRound);
        Compare(nameof(config.TeacherSteps), config.TeacherSteps, saved.TeacherSteps);
        Compare(nameof(config.CompatReleasedCode), config.CompatReleasedCode, saved.CompatReleasedCode);
        if (mismatches.Count > 0)
            throw new InvalidDataException($"'{path}' was distilled with other settings that fix its rounds and targets: " +
                $"{string.Join("; ", mismatches)}. Resume with the checkpoint's settings.");
    }

    private static T Parse<T>(string path, IReadOnlyDictionary<string, string> metadata, string key) =>
        CheckpointMetadata.Parse<T>(path, metadata, key,
            $"'{path}' is not a distillation checkpoint: it lacks the '{key}' metadata entry.");
}
