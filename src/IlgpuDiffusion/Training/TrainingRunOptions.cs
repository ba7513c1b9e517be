namespace IlgpuDiffusion.Training;

/// <summary>What <see cref="MdlmTrainer.Run"/> does around the optimizer steps.</summary>
public sealed record TrainingRunOptions
{
    /// <summary>Where metrics go (none when null).</summary>
    public MetricsLog? Log { get; init; }

    /// <summary>Validation run every <see cref="TrainingConfig.ValidationInterval"/> steps and at the end (none when null).</summary>
    public ValidationPerplexity? Validation { get; init; }

    /// <summary>Checkpoint file, rewritten atomically every <see cref="CheckpointInterval"/> steps and at the end (none when null).</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Optimizer steps between checkpoints (0: only at the end).</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>Whether to show a progress bar on an interactive console.</summary>
    public bool ShowProgress { get; init; } = true;
}
