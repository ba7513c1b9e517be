namespace IlgpuDiffusion.Distillation;

/// <summary>
/// The rounds of iterated SDTT (docs/algorithms.md §4.5). Round r (from 0) distills a teacher that samples in N₀/2^r steps of
/// size Δ_r = 2^r·(1 − 1e-5)/N₀ into a student that samples in N₀/2^(r+1) steps; rounds run while that student's
/// step count is at least the minimum, so N₀ = 1024 and minimum 8 give the paper's 7 rounds (512, …, 8 steps).
/// Round r covers optimizer steps [r·S, (r+1)·S) with S steps per round.
/// </summary>
public sealed record RoundSchedule
{
    /// <summary>The smallest diffusion time of the sampler grid: Δ₀ = (1 − ε)/N₀.</summary>
    public const double SamplingEpsilon = 1e-5;

    /// <summary>Creates the schedule, checking its settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <exception cref="ArgumentException">N₀ is not a power of two, or gives no round at the minimum.</exception>
    public RoundSchedule(int initialSamplingSteps, int minSamplingSteps, int stepsPerRound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minSamplingSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerRound, 1);
        if (initialSamplingSteps < 2 || (initialSamplingSteps & (initialSamplingSteps - 1)) != 0)
            throw new ArgumentException("The initial sampling steps must be a power of two ≥ 2 (each round halves them); " +
                $"got {initialSamplingSteps}.", nameof(initialSamplingSteps));
        int rounds = 0;
        while ((initialSamplingSteps >> (rounds + 1)) >= minSamplingSteps) rounds++;
        if (rounds == 0)
            throw new ArgumentException($"A teacher of {initialSamplingSteps} sampling steps gives no student " +
                $"of at least {minSamplingSteps} steps; lower the minimum or raise the initial steps.", nameof(minSamplingSteps));
        InitialSamplingSteps = initialSamplingSteps;
        MinSamplingSteps = minSamplingSteps;
        StepsPerRound = stepsPerRound;
        Count = rounds;
    }

    /// <summary>N₀.</summary>
    public int InitialSamplingSteps { get; }

    /// <summary>The least sampling steps of the last student.</summary>
    public int MinSamplingSteps { get; }

    /// <summary>Optimizer steps per round.</summary>
    public int StepsPerRound { get; }

    /// <summary>Rounds in the run.</summary>
    public int Count { get; }

    /// <summary>Optimizer steps of the whole run: rounds × steps per round.</summary>
    public long TotalSteps => (long)Count * StepsPerRound;

    /// <summary>The round optimizer step <paramref name="stepIndex"/> (from 0) belongs to.</summary>
    public int RoundOf(long stepIndex)
    {
        if (stepIndex < 0 || stepIndex >= TotalSteps)
            throw new ArgumentOutOfRangeException(nameof(stepIndex),
                $"Step {stepIndex} lies outside the {Count} rounds of {StepsPerRound} steps.");
        return (int)(stepIndex / StepsPerRound);
    }

    /// <summary>Sampling steps of round <paramref name="round"/>'s teacher: N₀/2^r.</summary>
    public int TeacherSamplingSteps(int round) => InitialSamplingSteps >> CheckRound(round);

    /// <summary>Sampling steps of round <paramref name="round"/>'s student: N₀/2^(r+1).</summary>
    public int StudentSamplingSteps(int round) => InitialSamplingSteps >> (CheckRound(round) + 1);

    /// <summary>Δ_r = 2^r·(1 − 1e-5)/N₀: the teacher's step size in round <paramref name="round"/>.</summary>
    public double TeacherStepSize(int round) => (1 - SamplingEpsilon) / TeacherSamplingSteps(round);

    private int CheckRound(int round)
    {
        if (round < 0 || round >= Count)
            throw new ArgumentOutOfRangeException(nameof(round), $"Round {round} is outside [0, {Count}).");
        return round;
    }
}
