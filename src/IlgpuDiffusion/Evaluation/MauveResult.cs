namespace IlgpuDiffusion.Evaluation;

/// <summary>MAUVE of model samples against references, over several k-means seeds.</summary>
/// <param name="Mean">Mean MAUVE over the seeds, in [0, 1] (higher: the model is closer to the references).</param>
/// <param name="StandardDeviation">Population standard deviation over the seeds (<c>np.std</c>, ddof = 0).</param>
/// <param name="PerSeed">MAUVE for each seed, in the order of <see cref="MauveOptions.Seeds"/>.</param>
/// <param name="Buckets">Number of k-means buckets (histogram size).</param>
/// <param name="PrincipalComponents">Number of principal components kept for the clustering.</param>
/// <param name="ModelSamples">Number of model feature vectors (P).</param>
/// <param name="ReferenceSamples">Number of reference feature vectors (Q).</param>
public sealed record MauveResult(
    double Mean,
    double StandardDeviation,
    IReadOnlyList<double> PerSeed,
    int Buckets,
    int PrincipalComponents,
    int ModelSamples,
    int ReferenceSamples);
