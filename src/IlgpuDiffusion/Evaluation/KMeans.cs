using System.Numerics.Tensors;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Lloyd's k-means with k-means++ seeding (Arthur &amp; Vassilvitskii 2007), restarted several times, keeping
/// the restart with the lowest within-cluster sum of squares (as faiss' <c>Kmeans(nredo=…)</c> in the MAUVE
/// reference). Seeded and deterministic: the same seed gives the same labels on every machine and thread count.
/// </summary>
/// <remarks>
/// Differs from faiss in the seeding (faiss samples k distinct points uniformly; k-means++ spreads them) and in
/// stopping as soon as no label changes (a fixed point of Lloyd's iteration, where faiss keeps iterating to
/// <c>niter</c> without effect). An empty cluster is moved to the point farthest from its centroid.
/// </remarks>
internal static class KMeans
{
    /// <summary>
    /// Cluster labels (0 .. <paramref name="clusters"/> − 1) of the <paramref name="count"/> points of width
    /// <paramref name="dimension"/> stored row-major in <paramref name="points"/>.
    /// </summary>
    public static int[] Cluster(float[] points, int count, int dimension, int clusters, int restarts, int maxIterations, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clusters, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(clusters, count);
        ArgumentOutOfRangeException.ThrowIfLessThan(restarts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIterations, 1);
        if (points.Length != (long)count * dimension)
            throw new ArgumentException($"{count} points of width {dimension} need {(long)count * dimension} values, got {points.Length}.",
                nameof(points));

        int[]? best = null;
        double bestObjective = double.PositiveInfinity;
        for (int restart = 0; restart < restarts; restart++)
        {
            var random = SplitMix64.ForStream(seed, (ulong)restart);
            float[] centroids = SeedPlusPlus(points, count, dimension, clusters, ref random);
            var labels = new int[count];
            var distances = new double[count];
            Lloyd(points, count, dimension, centroids, clusters, labels, distances, maxIterations);
            double objective = TensorPrimitives.Sum<double>(distances);
            if (objective < bestObjective)
            {
                bestObjective = objective;
                best = labels;
            }
        }
        return best!;
    }

    private static double SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double distance = TensorPrimitives.Distance(a, b);
        return distance * distance;
    }

    private static ReadOnlySpan<float> Point(float[] points, int dimension, int i) => points.AsSpan(i * dimension, dimension);

    /// <summary>
    /// k-means++: the first centre uniformly, each next one with probability proportional to D² to the nearest centre so far.
    /// </summary>
    private static float[] SeedPlusPlus(float[] points, int count, int dimension, int clusters, ref SplitMix64 random)
    {
        var centroids = new float[clusters * dimension];
        var nearest = new double[count];
        Array.Fill(nearest, double.PositiveInfinity);
        int chosen = random.NextInt(count);
        for (int c = 0; c < clusters; c++)
        {
            Point(points, dimension, chosen).CopyTo(centroids.AsSpan(c * dimension, dimension));
            if (c == clusters - 1) break;
            ReadOnlySpan<float> centre = centroids.AsSpan(c * dimension, dimension);
            double total = 0;
            for (int i = 0; i < count; i++)
            {
                nearest[i] = Math.Min(nearest[i], SquaredDistance(Point(points, dimension, i), centre));
                total += nearest[i];
            }
            chosen = total > 0 ? Sample(nearest, total, ref random) : random.NextInt(count);
        }
        return centroids;
    }

    private static int Sample(double[] weights, double total, ref SplitMix64 random)
    {
        double target = (random.Next() >> 11) * (1.0 / (1ul << 53)) * total;
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0) continue;
            last = i;
            cumulative += weights[i];
            if (cumulative > target) return i;
        }
        return last;
    }

    /// <summary>
    /// Lloyd iterations until no label changes; leaves each point's squared distance to its centroid in <paramref name="distances"/>.
    /// </summary>
    private static void Lloyd(float[] points, int count, int dimension, float[] centroids, int clusters, int[] labels, double[] distances,
        int maxIterations)
    {
        Array.Fill(labels, -1);
        var sums = new double[clusters * dimension];
        var sizes = new int[clusters];
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            if (!Assign(points, count, dimension, centroids, clusters, labels, distances)) return;
            Array.Clear(sums);
            Array.Clear(sizes);
            for (int i = 0; i < count; i++)
            {
                int label = labels[i];
                sizes[label]++;
                Span<double> sum = sums.AsSpan(label * dimension, dimension);
                ReadOnlySpan<float> point = Point(points, dimension, i);
                for (int j = 0; j < dimension; j++) sum[j] += point[j];
            }
            for (int c = 0; c < clusters; c++)
            {
                Span<float> centroid = centroids.AsSpan(c * dimension, dimension);
                if (sizes[c] > 0)
                {
                    ReadOnlySpan<double> sum = sums.AsSpan(c * dimension, dimension);
                    for (int j = 0; j < dimension; j++) centroid[j] = (float)(sum[j] / sizes[c]);
                    continue;
                }
                int farthest = TensorPrimitives.IndexOfMax<double>(distances);
                if (distances[farthest] <= 0) continue; // every point sits on its centroid: nothing to split
                Point(points, dimension, farthest).CopyTo(centroid);
                distances[farthest] = 0;
            }
        }
        Assign(points, count, dimension, centroids, clusters, labels, distances);
    }

    /// <summary>Moves every point to its nearest centroid (the lowest index on a tie); true when a label changed.</summary>
    private static bool Assign(float[] points, int count, int dimension, float[] centroids, int clusters, int[] labels, double[] distances)
    {
        var squaredNorms = new float[clusters];
        for (int c = 0; c < clusters; c++)
        {
            ReadOnlySpan<float> centroid = centroids.AsSpan(c * dimension, dimension);
            squaredNorms[c] = TensorPrimitives.Dot(centroid, centroid);
        }
        int changed = 0;
        const int chunk = 64;
        Parallel.For(0, (count + chunk - 1) / chunk, block =>
        {
            bool anyChanged = false;
            for (int i = block * chunk; i < Math.Min(count, (block + 1) * chunk); i++)
            {
                ReadOnlySpan<float> point = Point(points, dimension, i);
                int bestCluster = 0;
                float bestScore = float.PositiveInfinity;
                for (int c = 0; c < clusters; c++)
                {
                    // ‖x − c‖² − ‖x‖² = ‖c‖² − 2 x·c: the ranking needs no ‖x‖².
                    float score = squaredNorms[c] - 2 * TensorPrimitives.Dot(point, centroids.AsSpan(c * dimension, dimension));
                    if (score < bestScore)
                    {
                        bestScore = score;
                        bestCluster = c;
                    }
                }
                distances[i] = SquaredDistance(point, centroids.AsSpan(bestCluster * dimension, dimension));
                if (labels[i] != bestCluster)
                {
                    labels[i] = bestCluster;
                    anyChanged = true;
                }
            }
            if (anyChanged) Interlocked.Exchange(ref changed, 1);
        });
        return changed != 0;
    }
}
