namespace IlgpuDiffusion.Training;

/// <summary>
/// What every run (the MDLM, autoregressive and distillation runs) does around its optimizer steps besides
/// validation: where metrics and progress go, and the resume checkpoint and its interval.
/// </summary>
public abstract record RunOptions
{
    /// <summary>Where metrics go (none when null).</summary>
    public MetricsLog? Log { get; init; }

    /// <summary>
    /// Resume checkpoint, rewritten atomically every <see cref="CheckpointInterval"/> steps, at the end, and when the
    /// run is cancelled (none when null).
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Optimizer steps between checkpoints (0: only at the end).</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>Receives the run's state after every optimizer step (none when null); the library draws nothing itself.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>
    /// The checkpoint to write after <paramref name="step"/> (the run's <paramref name="last"/> or not), or null when none is due.
    /// </summary>
    internal string? CheckpointDue(long step, bool last) =>
        CheckpointPath is not null && (last || CheckpointInterval > 0 && step % CheckpointInterval == 0) ? CheckpointPath : null;
}
