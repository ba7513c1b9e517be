using System.Globalization;
using System.Text.RegularExpressions;
using IlgpuDiffusion.Files;
using IlgpuDiffusion.Models.Safetensors;

namespace IlgpuDiffusion.Training;

/// <summary>
/// The step-numbered resume checkpoints of a run beside its checkpoint file: <c>run.safetensors</c> has
/// <c>run.step-000500.safetensors</c>, <c>run.step-001000.safetensors</c>, … A run writes its periodic (and cancelled)
/// checkpoints there, each atomically, and prunes all but the newest few after every successful write, so the last good
/// one is never overwritten and the folder never grows without bound.
/// </summary>
public static partial class StepCheckpoints
{
    /// <summary>The step-numbered checkpoint of <paramref name="checkpointPath"/> at <paramref name="step"/>.</summary>
    public static string PathOf(string checkpointPath, long step)
    {
        ArgumentNullException.ThrowIfNull(checkpointPath);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        string stem = Path.GetFileNameWithoutExtension(checkpointPath), extension = Path.GetExtension(checkpointPath);
        return Path.Combine(Path.GetDirectoryName(checkpointPath) ?? "",
            string.Create(CultureInfo.InvariantCulture, $"{stem}.step-{step:D6}{extension}"));
    }

    /// <summary>
    /// The run checkpoint a step-numbered one belongs to (<c>run.step-000500.safetensors</c> → <c>run.safetensors</c>), or
    /// <paramref name="path"/> itself when it is not step-numbered.
    /// </summary>
    public static string BaseOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Match match = Numbered().Match(Path.GetFileName(path));
        return match.Success
            ? Path.Combine(Path.GetDirectoryName(path) ?? "", match.Groups["stem"].Value + match.Groups["extension"].Value)
            : path;
    }

    /// <summary>The step-numbered checkpoints of <paramref name="checkpointPath"/> that exist, oldest first.</summary>
    public static IReadOnlyList<(long Step, string Path)> List(string checkpointPath)
    {
        ArgumentNullException.ThrowIfNull(checkpointPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(checkpointPath))!;
        if (!Directory.Exists(folder)) return [];
        string stem = Path.GetFileNameWithoutExtension(checkpointPath), extension = Path.GetExtension(checkpointPath);
        var found = new List<(long Step, string Path)>();
        foreach (string file in Directory.EnumerateFiles(folder, $"{stem}.step-*{extension}"))
        {
            Match match = Numbered().Match(Path.GetFileName(file));
            if (match.Success && match.Groups["stem"].Value == stem && match.Groups["extension"].Value == extension)
                found.Add((long.Parse(match.Groups["step"].Value, CultureInfo.InvariantCulture),
                    Path.Combine(Path.GetDirectoryName(checkpointPath) ?? "", Path.GetFileName(file))));
        }
        return found.OrderBy(c => c.Step).ToArray();
    }

    /// <summary>
    /// After the step-numbered checkpoint of <paramref name="step"/> was written: deletes those of later steps (left by a run
    /// this one replaced or went back from), all but the newest <paramref name="keep"/> of the rest (none when
    /// <paramref name="keep"/> is 0: every one is kept), and the temporary files that killed writers left of any.
    /// </summary>
    public static void Prune(string checkpointPath, long step, int keep)
    {
        ArgumentNullException.ThrowIfNull(checkpointPath);
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        string folder = Path.GetDirectoryName(Path.GetFullPath(checkpointPath))!;
        string stem = Path.GetFileNameWithoutExtension(checkpointPath), extension = Path.GetExtension(checkpointPath);
        if (Directory.Exists(folder))
        {
            foreach (string temporary in Directory.EnumerateFiles(folder, $"{stem}.step-*{extension}.*.tmp"))
            {
                string name = Path.GetFileName(temporary);
                int end = name.IndexOf(extension + ".", stem.Length, StringComparison.Ordinal);
                if (end > 0) AtomicFile.RemoveStaleTemporaries(Path.Combine(folder, name[..(end + extension.Length)]));
            }
        }
        IReadOnlyList<(long Step, string Path)> numbered = List(checkpointPath);
        foreach (var (_, path) in numbered.Where(c => c.Step > step)) File.Delete(path);
        var kept = numbered.Where(c => c.Step <= step).ToArray();
        if (keep > 0)
            foreach (var (_, path) in kept.Take(Math.Max(0, kept.Length - keep))) File.Delete(path);
    }

    /// <summary>
    /// The resume checkpoint written last among <paramref name="checkpointPath"/> and its step-numbered checkpoints, skipping
    /// any that does not open as a whole checkpoint with a training state and its optimizer state.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is none.</exception>
    public static string Latest(string checkpointPath)
    {
        ArgumentNullException.ThrowIfNull(checkpointPath);
        string? best = null;
        DateTime bestTime = DateTime.MinValue;
        foreach (string candidate in List(checkpointPath).Select(c => c.Path).Prepend(checkpointPath))
        {
            if (!HoldsTrainingState(candidate)) continue;
            DateTime written = File.GetLastWriteTimeUtc(candidate);
            if (best is null || written > bestTime) (best, bestTime) = (candidate, written);
        }
        return best ?? throw new FileNotFoundException($"No resume checkpoint found: neither '{checkpointPath}' nor a " +
            $"step-numbered one beside it ({Path.GetFileName(PathOf(checkpointPath, 500))}, …) holds a run to continue.",
            checkpointPath);
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a whole safetensors file whose header holds a training state, with the tensors to
    /// resume it (not weights only).
    /// </summary>
    private static bool HoldsTrainingState(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using SafetensorsReader reader = SafetensorsReader.Open(path);
            CheckpointMetadata.Parse<TrainingState>(path, reader.Metadata, CheckpointMetadata.StateKey, "");
            return !CheckpointTensors.IsWeightsOnly(reader.Metadata);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^(?<stem>.+)\.step-(?<step>[0-9]{6,19})(?<extension>\.[^.]*)?$")]
    private static partial Regex Numbered();
}
