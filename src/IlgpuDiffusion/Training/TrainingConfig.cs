namespace IlgpuDiffusion.Training;

/// <summary>Shape of the learning rate after warm-up.</summary>
public enum LrDecay
{
    /// <summary>Constant after warm-up (MDLM: <c>get_constant_schedule_with_warmup</c>).</summary>
    Constant,

    /// <summary>
    /// Half a cosine from the peak to 0 at <see cref="TrainingConfig.MaxSteps"/> (<c>get_cosine_schedule_with_warmup</c>).
    /// </summary>
    Cosine,
}

/// <summary>
/// Settings of a training run (MDLM, autoregressive, or the optimizer side of a distillation); the defaults are MDLM's
/// OWT recipe (docs/algorithms.md §2.7) except the batch, which is sized for one machine. Override with <c>with</c>.
/// </summary>
public sealed record TrainingConfig
{
    /// <summary>MDLM's recipe with a small batch: lr 3e-4, 2500 warm-up steps, constant, clip 1.0, EMA 0.9999.</summary>
    public static TrainingConfig Mdlm { get; } = new();

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 3e-4;

    /// <summary>Optimizer steps of linear warm-up from 0 to <see cref="LearningRate"/>.</summary>
    public int WarmupSteps { get; init; } = 2500;

    /// <summary>Constant or cosine after warm-up.</summary>
    public LrDecay Decay { get; init; } = LrDecay.Constant;

    /// <summary>Optimizer steps of the whole run (the end of the cosine).</summary>
    public int MaxSteps { get; init; } = 1_000_000;

    /// <summary>AdamW decoupled weight decay.</summary>
    public double WeightDecay { get; init; }

    /// <summary>AdamW β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>AdamW ε.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Largest global L2 norm of the gradient; larger gradients are scaled down (0 turns clipping off).</summary>
    public double GradientClip { get; init; } = 1.0;

    /// <summary>EMA decay d, used as min(d, (1+n)/(10+n)) at the n-th update.</summary>
    public double EmaDecay { get; init; } = 0.9999;

    /// <summary>Whether the model runs with dropout (its train mode) during training steps.</summary>
    public bool Dropout { get; init; } = true;

    /// <summary>B: sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Micro-batches whose gradients add up to one optimizer step.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Optimizer steps between two training log lines.</summary>
    public int LogInterval { get; init; } = 10;

    /// <summary>Optimizer steps between two validations (0: never during training).</summary>
    public int ValidationInterval { get; init; } = 1000;

    /// <summary>Most validation batches per validation (0: the whole validation split).</summary>
    public int ValidationBatches { get; init; }

    /// <summary>Seed of data order, diffusion times, masks and dropout.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// Peak FLOP/s of the device, for model FLOPs utilization in the log (0: not reported): the rate of the precision its
    /// products run in, or a fixed yardstick such as the card's dense BF16 tensor-core rate.
    /// </summary>
    public double PeakFlops { get; init; }

    /// <summary>Sequences per optimizer step: B × accumulation.</summary>
    public int SequencesPerStep => BatchSize * GradientAccumulationSteps;

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is invalid.</exception>
    public void Validate()
    {
        Require(LearningRate >= 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "a finite number ≥ 0");
        Require(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "≥ 0");
        Require(MaxSteps >= 1, nameof(MaxSteps), MaxSteps, "≥ 1");
        Require(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "≥ 0");
        Require(Beta1 >= 0 && Beta1 < 1, nameof(Beta1), Beta1, "in [0, 1)");
        Require(Beta2 >= 0 && Beta2 < 1, nameof(Beta2), Beta2, "in [0, 1)");
        Require(AdamEpsilon > 0, nameof(AdamEpsilon), AdamEpsilon, "> 0");
        Require(GradientClip >= 0, nameof(GradientClip), GradientClip, "≥ 0");
        Require(EmaDecay >= 0 && EmaDecay < 1, nameof(EmaDecay), EmaDecay, "in [0, 1)");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "≥ 1");
        Require(GradientAccumulationSteps >= 1, nameof(GradientAccumulationSteps), GradientAccumulationSteps, "≥ 1");
        Require((long)BatchSize * GradientAccumulationSteps <= int.MaxValue, nameof(GradientAccumulationSteps),
            GradientAccumulationSteps, $"at most {int.MaxValue / BatchSize} with {nameof(BatchSize)} {BatchSize} (sequences per step)");
        Require(LogInterval >= 1, nameof(LogInterval), LogInterval, "≥ 1");
        Require(ValidationInterval >= 0, nameof(ValidationInterval), ValidationInterval, "≥ 0");
        Require(ValidationBatches >= 0, nameof(ValidationBatches), ValidationBatches, "≥ 0");
        Require(PeakFlops >= 0, nameof(PeakFlops), PeakFlops, "≥ 0");
    }

    private static void Require(bool valid, string name, object value, string range)
    {
        if (!valid) throw new ArgumentOutOfRangeException(name, $"Training setting {name} must be {range}; got {value}.");
    }
}
