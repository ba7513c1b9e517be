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
    /// The run's checkpoint, written atomically at the end (none when null). Every <see cref="CheckpointInterval"/> steps
    /// and when the run is cancelled, a resume checkpoint goes to its step-numbered sibling instead
    /// (<see cref="StepCheckpoints.PathOf"/>), and the older ones are pruned to <see cref="KeepCheckpoints"/>.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Optimizer steps between step-numbered checkpoints (0: only at the end, or when cancelled).</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>
    /// How many step-numbered checkpoints to keep: after each one is written, all but the newest this many are deleted
    /// (0: keep every one).
    /// </summary>
    public int KeepCheckpoints { get; init; } = DefaultKeepCheckpoints;

    /// <summary>
    /// Whether the end's <see cref="CheckpointPath"/> holds the EMA weights alone (with configs and state: what sampling and
    /// evaluation load, a quarter of a full checkpoint); the run's full state then goes to the end's step-numbered checkpoint,
    /// so a finished run can still be continued.
    /// </summary>
    public bool WeightsOnlyAtEnd { get; init; }

    /// <summary>The default of <see cref="KeepCheckpoints"/>.</summary>
    public const int DefaultKeepCheckpoints = 2;

    /// <summary>Receives the run's state after every optimizer step (none when null); the library draws nothing itself.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>What a rank other than 0 of a data-parallel group keeps: the progress, without log or checkpoints.</summary>
    internal RunOptions ForOtherRanks() => this with { Log = null, CheckpointPath = null };

    /// <summary>
    /// The checkpoint to write after <paramref name="step"/> (the run's <paramref name="last"/> or not), or null when none is due:
    /// the run's checkpoint at the end, else its step-numbered sibling.
    /// </summary>
    internal string? CheckpointDue(long step, bool last) =>
        CheckpointPath is null ? null
        : last ? CheckpointPath
        : CheckpointInterval > 0 && step % CheckpointInterval == 0 ? StepCheckpoints.PathOf(CheckpointPath, step)
        : null;

    /// <summary>
    /// Writes the checkpoint due after <paramref name="step"/> (see <see cref="CheckpointDue"/>) of <paramref name="trainer"/>;
    /// false when none was due.
    /// </summary>
    internal bool SaveDue(ITrainingSteps trainer, long step, bool last)
    {
        if (CheckpointDue(step, last) is not { } path) return false;
        if (path == CheckpointPath && WeightsOnlyAtEnd)
        {
            Save(trainer.SaveCheckpoint, StepCheckpoints.PathOf(path, step), step);
            trainer.SaveWeights(path);
        }
        else
        {
            Save(trainer.SaveCheckpoint, path, step);
        }
        return true;
    }

    /// <summary>
    /// Writes the checkpoint of <paramref name="step"/> with <paramref name="save"/> to <paramref name="path"/>, then prunes the
    /// step-numbered ones when it was one of them.
    /// </summary>
    internal void Save(Action<string> save, string path, long step)
    {
        save(path);
        if (CheckpointPath is not null && path != CheckpointPath) StepCheckpoints.Prune(CheckpointPath, step, KeepCheckpoints);
    }
}
