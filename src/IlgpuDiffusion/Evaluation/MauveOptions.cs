namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Settings of <see cref="Mauve.Compute"/>. The defaults are those of the reference <c>mauve.compute_mauve</c>
/// (krishnap25/mauve) and of SDTT's evaluation (docs/algorithms.md §5.2): L2-normalised features, PCA without whitening keeping
/// 0.9 of the variance, k-means with n/10 buckets, 5 restarts, 500 iterations, 25 frontier points, c = 5, seeds 1..5.
/// </summary>
public sealed record MauveOptions
{
    /// <summary>Number of k-means buckets; null = "auto": max(2, round(min(|P|, |Q|) / 10)).</summary>
    public int? Buckets { get; init; }

    /// <summary>Share of the variance the kept principal components must explain (in (0, 1)).</summary>
    public double ExplainedVariance { get; init; } = 0.9;

    /// <summary>k-means restarts per seed; the restart with the lowest within-cluster sum of squares is kept.</summary>
    public int KMeansRestarts { get; init; } = 5;

    /// <summary>Most Lloyd iterations per restart.</summary>
    public int KMeansMaxIterations { get; init; } = 500;

    /// <summary>Number of mixture weights on the divergence frontier.</summary>
    public int CurvePoints { get; init; } = 25;

    /// <summary>The scaling constant c in exp(−c·KL).</summary>
    public double ScalingFactor { get; init; } = 5;

    /// <summary>One MAUVE value per seed (the k-means seeding differs); the result reports their mean and standard deviation.</summary>
    public IReadOnlyList<ulong> Seeds { get; init; } = [1, 2, 3, 4, 5];

    /// <summary>The options of the reference implementation and of SDTT's evaluation.</summary>
    public static MauveOptions Default { get; } = new();
}
