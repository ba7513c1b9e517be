using System.Text.Json.Serialization;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// Settings of a multi-round SDTT run (docs/algorithms.md §4). The optimizer, batch, EMA, dropout and seed come from
/// <see cref="Training"/> (its validation and MFU fields are unused); the rest shapes the rounds and targets.
/// Defaults follow the paper (docs/algorithms.md appendix #1–#4): Adam lr 6e-5 with 500 warm-up steps then constant, clip 1.0,
/// EMA 0.9999, student dropout on, 2 teacher steps per target, reverse KL, 1024 → 8 sampling steps in 7 rounds
/// of 10k steps. Override with <c>with</c>.
/// </summary>
public sealed record DistillationConfig
{
    /// <summary>The paper's recipe with a one-machine batch.</summary>
    public static DistillationConfig Sdtt { get; } = new();

    /// <summary>Optimizer, schedule, batch, accumulation, EMA, dropout and seed.</summary>
    public TrainingConfig Training { get; init; } = TrainingConfig.Mdlm with { LearningRate = 6e-5, WarmupSteps = 500 };

    /// <summary>N₀: the sampling steps of the initial teacher (1024 in the paper; e.g. 128–256 for short models). A power of two.</summary>
    public int InitialSamplingSteps { get; init; } = 1024;

    /// <summary>Rounds continue while the next student samples in at least this many steps (8 in the paper).</summary>
    public int MinSamplingSteps { get; init; } = 8;

    /// <summary>Optimizer steps per round (10k in the paper).</summary>
    public int StepsPerRound { get; init; } = 10_000;

    /// <summary>K: ancestral teacher steps of size Δ behind each target (2 in the paper).</summary>
    public int TeacherSteps { get; init; } = 2;

    /// <summary>What the student minimizes.</summary>
    public DistillationDivergence Divergence { get; init; } = DistillationDivergence.ReverseKl;

    /// <summary>
    /// Reproduce the released code instead of the paper: the teacher time grid <c>t·space + (1−t)·t_end</c> (its typo;
    /// the first teacher step reveals fewer tokens) and TVD as L1 on log-probs (docs/algorithms.md appendix #1 and #2).
    /// </summary>
    public bool CompatReleasedCode { get; init; }

    /// <summary>
    /// At a round's end the teacher becomes the student's EMA weights instead of its raw weights (code: <c>use_ema_on_growth</c>).
    /// </summary>
    public bool TeacherFromEma { get; init; }

    /// <summary>
    /// Zero Adam's moments and step count at each round's end (code: <c>reset_optimizer_on_growth</c>); off in the paper.
    /// </summary>
    public bool ResetOptimizerEachRound { get; init; }

    /// <summary>Restart the EMA (with its warm-up) from the student's raw weights at each round's end; off in the paper.</summary>
    public bool ResetEmaEachRound { get; init; }

    /// <summary>The rounds these settings give.</summary>
    [JsonIgnore]
    public RoundSchedule Rounds => new(InitialSamplingSteps, MinSamplingSteps, StepsPerRound);

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is invalid.</exception>
    /// <exception cref="ArgumentException">The sampling steps give no round.</exception>
    public DistillationConfig Validate()
    {
        ArgumentNullException.ThrowIfNull(Training, nameof(Training));
        Training.Validate();
        if (TeacherSteps < 1 || TeacherSteps > 64)
            throw new ArgumentOutOfRangeException(nameof(TeacherSteps),
                $"Distillation setting {nameof(TeacherSteps)} must be in [1, 64]; got {TeacherSteps}.");
        if (!Enum.IsDefined(Divergence))
            throw new ArgumentOutOfRangeException(nameof(Divergence), $"Unknown distillation divergence {Divergence}.");
        _ = Rounds;
        return this;
    }
}
