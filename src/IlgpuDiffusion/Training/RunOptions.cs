namespace IlgpuDiffusion.Training;

/// <summary>
/// What every run (<see cref="MdlmTrainer.Run"/>, the autoregressive and distillation runs) does around its optimizer
/// steps besides validation: where metrics go, the resume checkpoint and its interval, and the progress bar.
/// </summary>
public abstract record RunOptions
{
    /// <summary>Where metrics go (none when null).</summary>
    public MetricsLog? Log { get; init; }

    /// <summary>Resume checkpoint, rewritten atomically every <see cref="CheckpointInterval"/> steps and at the end (none when null).</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Optimizer steps between checkpoints (0: only at the end).</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>Whether to show a progress bar on an interactive console.</summary>
    public bool ShowProgress { get; init; } = true;

    /// <summary>The checkpoint to write after <paramref name="step"/> (the run's <paramref name="last"/> or not), or null when none is due.</summary>
    internal string? CheckpointDue(long step, bool last) =>
        CheckpointPath is not null && (last || CheckpointInterval > 0 && step % CheckpointInterval == 0) ? CheckpointPath : null;
}
