using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

/// <summary>What <see cref="SdttDistiller.Run"/> does around the optimizer steps.</summary>
public sealed record DistillationRunOptions : RunOptions
{
    /// <summary>Folder of the per-round checkpoints, named by <see cref="SdttDistiller.RoundCheckpointName"/> (none when null).</summary>
    public string? RoundCheckpointDirectory { get; init; }

    /// <summary>
    /// Whether each round's checkpoint holds the student's EMA weights alone (with configs and distillation state: what sampling
    /// and evaluation load, a fifth of a full one) instead of the full state with raw weights, Adam moments and teacher.
    /// </summary>
    public bool WeightsOnlyRounds { get; init; }

    /// <summary>Validation of the student's EMA weights at the end of each round (none when null).</summary>
    public ValidationPerplexity? Validation { get; init; }
}
