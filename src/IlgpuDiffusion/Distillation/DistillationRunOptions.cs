using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

/// <summary>What <see cref="SdttDistiller.Run"/> does around the optimizer steps.</summary>
public sealed record DistillationRunOptions
{
    /// <summary>Where metrics go (none when null).</summary>
    public MetricsLog? Log { get; init; }

    /// <summary>Folder of the per-round checkpoints <c>round-{r}-{N}-steps.safetensors</c> (none when null).</summary>
    public string? RoundCheckpointDirectory { get; init; }

    /// <summary>Resume checkpoint, rewritten atomically every <see cref="CheckpointInterval"/> steps and at the end (none when null).</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Optimizer steps between resume checkpoints (0: only at the end).</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>Validation of the student's EMA weights at the end of each round (none when null).</summary>
    public ValidationPerplexity? Validation { get; init; }

    /// <summary>Whether to show a progress bar on an interactive console.</summary>
    public bool ShowProgress { get; init; } = true;
}
