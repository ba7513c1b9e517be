using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class KMeansTests
{
    /// <summary>Three tight blobs of 20 points in 3-D around far-apart centres, interleaved in the point order.</summary>
    private static (float[] Points, int[] Blob) ThreeBlobs()
    {
        float[][] centres = [[10, 0, 0], [0, 10, 0], [0, 0, 10]];
        var random = new Random(7);
        var points = new float[60 * 3];
        var blob = new int[60];
        for (int i = 0; i < 60; i++)
        {
            blob[i] = i % 3;
            for (int j = 0; j < 3; j++) points[i * 3 + j] = centres[blob[i]][j] + (float)(random.NextDouble() - 0.5);
        }
        return (points, blob);
    }

    [Fact]
    public void Well_separated_blobs_get_one_label_each()
    {
        (float[] points, int[] blob) = ThreeBlobs();
        int[] labels = KMeans.Cluster(points, 60, 3, clusters: 3, restarts: 2, maxIterations: 100, seed: 1);
        for (int i = 0; i < 60; i++)
        {
            for (int j = 0; j < 60; j++) Assert.Equal(blob[i] == blob[j], labels[i] == labels[j]);
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_labels()
    {
        (float[] points, _) = ThreeBlobs();
        int[] first = KMeans.Cluster(points, 60, 3, clusters: 6, restarts: 3, maxIterations: 50, seed: 42);
        int[] second = KMeans.Cluster(points, 60, 3, clusters: 6, restarts: 3, maxIterations: 50, seed: 42);
        Assert.Equal(first, second);
        Assert.Equal(6, first.Distinct().Count());
    }

    [Fact]
    public void Identical_points_all_share_the_first_cluster()
    {
        var points = new float[10 * 2];
        Array.Fill(points, 3f);
        int[] labels = KMeans.Cluster(points, 10, 2, clusters: 3, restarts: 1, maxIterations: 10, seed: 5);
        Assert.All(labels, label => Assert.Equal(0, label));
    }

    [Fact]
    public void More_clusters_than_points_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            KMeans.Cluster(new float[4], 2, 2, clusters: 3, restarts: 1, maxIterations: 1, seed: 0));
}
