namespace IlgpuDiffusion.Training;

/// <summary>What a trainer adds to <see cref="TrainingLoop"/>; every hook is optional.</summary>
internal sealed record TrainingLoopHooks
{
    /// <summary>
    /// Evaluates the run's weights at a step: every <see cref="TrainingConfig.ValidationInterval"/> steps and at the end.
    /// </summary>
    public Func<long, ValidationMetrics>? Validate { get; init; }

    /// <summary>
    /// Whether a log interval ends at a step besides the <see cref="TrainingConfig.LogInterval"/> (a distillation round's end).
    /// </summary>
    public Func<long, bool>? EndsInterval { get; init; }

    /// <summary>
    /// The record logged for an interval (the interval's <see cref="TrainingMetrics"/> when null); left out of the timings,
    /// it may read the last step's activations.
    /// </summary>
    public Func<TrainingMetrics, IMetricsRecord>? Describe { get; init; }

    /// <summary>Work after a step, left out of the timings and before the resume checkpoint (a distillation round's end).</summary>
    public Action<StepResult>? AfterStep { get; init; }

    /// <summary>The <see cref="TrainingProgress.Stage"/> after a step ("Training" when null).</summary>
    public Func<long, string>? Stage { get; init; }
}
