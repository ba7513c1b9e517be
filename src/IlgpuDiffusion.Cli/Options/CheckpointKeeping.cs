using System.CommandLine;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// The step-numbered resume checkpoints of <c>train</c> and <c>distill</c>: <c>--keep-checkpoints</c>, and the
/// <c>--resume latest</c> (or a folder) that picks the newest whole one.
/// </summary>
internal static class CheckpointKeeping
{
    /// <summary>The <c>--resume</c> value that picks the newest resume checkpoint.</summary>
    public const string Latest = "latest";

    /// <summary>Builds <c>--keep-checkpoints</c>.</summary>
    public static Option<int> KeepOption() => new Option<int>("--keep-checkpoints")
    {
        HelpName = "N",
        Description = "Step-numbered checkpoints (<name>.step-NNNNNN.safetensors beside the output, written every " +
            "--checkpoint-interval steps and on Ctrl+C) to keep: older ones are deleted after each successful write; 0 keeps all",
        DefaultValueFactory = _ => RunOptions.DefaultKeepCheckpoints,
    }.NotNegative();

    /// <summary>
    /// The checkpoint <c>--resume</c> names: <paramref name="resume"/> itself, or with <see cref="Latest"/> (or a folder) the newest
    /// whole one among <paramref name="runCheckpoint"/> and its step-numbered siblings.
    /// </summary>
    /// <param name="resume">The option's value, or null.</param>
    /// <param name="runCheckpoint">The run checkpoint that <see cref="Latest"/> stands for (in the folder when a folder is given).</param>
    /// <exception cref="UsageException">There is no checkpoint to resume.</exception>
    public static string? Resolve(string? resume, Func<string?, string> runCheckpoint)
    {
        if (resume is null) return null;
        string? folder = resume == Latest ? null : Directory.Exists(resume) ? resume : null;
        if (resume != Latest && folder is null) return resume;
        try
        {
            return StepCheckpoints.Latest(runCheckpoint(folder));
        }
        catch (FileNotFoundException e)
        {
            throw new UsageException($"--resume {resume}: {e.Message}");
        }
    }
}
