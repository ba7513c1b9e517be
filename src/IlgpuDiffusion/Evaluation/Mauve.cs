using System.Numerics.Tensors;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// MAUVE (Pillutla et al. 2021) between model samples P and references Q, given one feature vector per text
/// (e.g. a judge's final hidden state). The steps follow the reference <c>mauve.compute_mauve</c>:
/// <list type="number">
/// <item>L2-normalise every feature vector;</item>
/// <item>fit PCA on the union of P and Q (no whitening) and keep the fewest components explaining
/// <see cref="MauveOptions.ExplainedVariance"/> of the variance;</item>
/// <item>quantize the union with k-means (<see cref="KMeans"/>) into <see cref="MauveOptions.Buckets"/> buckets;</item>
/// <item>histogram P and Q over the buckets; MAUVE is the area under their <see cref="DivergenceFrontier"/>.</item>
/// </list>
/// The PCA is fitted once; the k-means quantization and MAUVE are repeated for each seed of
/// <see cref="MauveOptions.Seeds"/> and reported as mean ± standard deviation (SDTT: seeds 1..5).
/// </summary>
public static class Mauve
{
    /// <summary>MAUVE of <paramref name="modelFeatures"/> (P) against <paramref name="referenceFeatures"/> (Q).</summary>
    /// <exception cref="ArgumentException">A set is empty, the vectors differ in width, a value is not finite, there are
    /// fewer points than buckets, or an option is out of range.</exception>
    public static MauveResult Compute(IReadOnlyList<float[]> modelFeatures, IReadOnlyList<float[]> referenceFeatures,
        MauveOptions? options = null)
    {
        options ??= MauveOptions.Default;
        CheckOptions(options);
        int dimension = CheckFeatures(modelFeatures, nameof(modelFeatures), expectedDimension: null);
        CheckFeatures(referenceFeatures, nameof(referenceFeatures), dimension);
        int modelCount = modelFeatures.Count, total = modelCount + referenceFeatures.Count;
        int buckets = options.Buckets
            ?? Math.Max(2, (int)Math.Round(Math.Min(modelCount, referenceFeatures.Count) / 10.0, MidpointRounding.ToEven));
        if (buckets > total)
            throw new ArgumentException($"{buckets} k-means buckets need at least as many feature vectors; got {total} in all.",
                nameof(options));

        var union = new float[total][];
        for (int i = 0; i < total; i++)
            union[i] = Normalized(i < modelCount ? modelFeatures[i] : referenceFeatures[i - modelCount]);
        PrincipalComponents pca = PrincipalComponents.Fit(union, dimension);
        int components = pca.ComponentsFor(options.ExplainedVariance);
        float[] projected = pca.Project(union, components); // [total, components]

        double[] weights = DivergenceFrontier.MixtureWeights(options.CurvePoints);
        var perSeed = new double[options.Seeds.Count];
        for (int s = 0; s < perSeed.Length; s++)
        {
            int[] labels = KMeans.Cluster(projected, total, components, buckets, options.KMeansRestarts, options.KMeansMaxIterations,
                options.Seeds[s]);
            double[] p = Histogram(labels.AsSpan(0, modelCount), buckets);
            double[] q = Histogram(labels.AsSpan(modelCount), buckets);
            perSeed[s] = DivergenceFrontier.Area(DivergenceFrontier.Curve(p, q, weights, options.ScalingFactor));
        }
        double mean = perSeed.Average();
        double deviation = Math.Sqrt(perSeed.Sum(value => (value - mean) * (value - mean)) / perSeed.Length);
        return new MauveResult(mean, deviation, perSeed, buckets, components, modelCount, referenceFeatures.Count);
    }

    /// <summary>Share of the <paramref name="labels"/> in each of the <paramref name="buckets"/> buckets.</summary>
    private static double[] Histogram(ReadOnlySpan<int> labels, int buckets)
    {
        var histogram = new double[buckets];
        foreach (int label in labels) histogram[label]++;
        TensorPrimitives.Divide(histogram, labels.Length, histogram);
        return histogram;
    }

    /// <summary>A copy scaled to unit L2 norm (a zero vector stays zero, as in scikit-learn's <c>normalize</c>).</summary>
    private static float[] Normalized(float[] features)
    {
        var copy = (float[])features.Clone();
        float norm = TensorPrimitives.Norm(copy);
        if (norm > 0) TensorPrimitives.Divide(copy, norm, copy);
        return copy;
    }

    private static int CheckFeatures(IReadOnlyList<float[]> features, string name, int? expectedDimension)
    {
        ArgumentNullException.ThrowIfNull(features, name);
        if (features.Count == 0) throw new ArgumentException("MAUVE needs at least one feature vector in each set.", name);
        int dimension = expectedDimension ?? features[0]?.Length ?? 0;
        if (dimension == 0) throw new ArgumentException("Feature vector 0 is null or empty.", name);
        for (int i = 0; i < features.Count; i++)
        {
            float[] vector = features[i];
            if (vector is null || vector.Length != dimension)
                throw new ArgumentException($"Feature vector {i} has width {vector?.Length ?? 0}; " +
                    $"every vector of both sets needs width {dimension}.", name);
            for (int j = 0; j < vector.Length; j++)
            {
                if (!float.IsFinite(vector[j])) throw new ArgumentException($"Feature vector {i} holds {vector[j]} at index {j}.", name);
            }
        }
        return dimension;
    }

    private static void CheckOptions(MauveOptions options)
    {
        if (options.Buckets is < 2) throw new ArgumentException($"MAUVE needs at least 2 buckets, got {options.Buckets}.", nameof(options));
        if (!(options.ExplainedVariance > 0 && options.ExplainedVariance < 1))
            throw new ArgumentException($"The explained variance must lie in (0, 1), got {options.ExplainedVariance}.", nameof(options));
        if (options.KMeansRestarts < 1 || options.KMeansMaxIterations < 1)
            throw new ArgumentException("k-means needs at least one restart and one iteration.", nameof(options));
        if (options.CurvePoints < 2)
            throw new ArgumentException($"The frontier needs at least 2 points, got {options.CurvePoints}.", nameof(options));
        if (!(options.ScalingFactor > 0) || double.IsInfinity(options.ScalingFactor))
            throw new ArgumentException($"The scaling factor must be positive and finite, got {options.ScalingFactor}.", nameof(options));
        if (options.Seeds is null || options.Seeds.Count == 0)
            throw new ArgumentException("MAUVE needs at least one seed.", nameof(options));
    }
}
