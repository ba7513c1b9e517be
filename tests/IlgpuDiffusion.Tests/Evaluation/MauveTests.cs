using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class MauveTests
{
    private static readonly MauveOptions Fast = new() { KMeansRestarts = 2, KMeansMaxIterations = 100, Seeds = [1, 2, 3] };

    private static float[][] Gaussian(int count, int dimension, float centre, int seed)
    {
        var random = new Random(seed);
        var rows = new float[count][];
        for (int i = 0; i < count; i++)
        {
            rows[i] = new float[dimension];
            for (int j = 0; j < dimension; j++)
            {
                double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
                rows[i][j] = centre + (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }
        }
        return rows;
    }

    [Fact]
    public void Identical_sets_score_one()
    {
        float[][] features = Gaussian(80, 16, 0, seed: 1);
        MauveResult result = Mauve.Compute(features, features.Select(f => (float[])f.Clone()).ToArray(), Fast);
        Assert.Equal(1, result.Mean, 6);
        Assert.Equal(0, result.StandardDeviation, 6);
        Assert.Equal(8, result.Buckets); // auto: 80 / 10
        Assert.Equal(3, result.PerSeed.Count);
        Assert.InRange(result.PrincipalComponents, 1, 16);
    }

    [Fact]
    public void Disjoint_well_separated_clusters_score_near_zero()
    {
        float[][] model = Gaussian(100, 12, 20, seed: 2);
        float[][] references = Gaussian(100, 12, -20, seed: 3);
        MauveResult result = Mauve.Compute(model, references, Fast);
        Assert.InRange(result.Mean, 0, 0.05);
    }

    [Fact]
    public void Samples_of_one_distribution_score_higher_than_shifted_samples()
    {
        float[][] references = Gaussian(200, 8, 0, seed: 4);
        MauveResult same = Mauve.Compute(Gaussian(200, 8, 0, seed: 5), references, Fast);
        MauveResult shifted = Mauve.Compute(Gaussian(200, 8, 0.5f, seed: 6), references, Fast);
        Assert.True(same.Mean > shifted.Mean, $"same {same.Mean}, shifted {shifted.Mean}");
        Assert.InRange(same.Mean, 0.5, 1);
    }

    [Fact]
    public void Bad_inputs_are_rejected_with_the_vector_index()
    {
        float[][] good = Gaussian(20, 4, 0, seed: 7);
        var error = Assert.Throws<ArgumentException>(() => Mauve.Compute(good, [.. good.Take(19), new float[3]], Fast));
        Assert.Contains("Feature vector 19", error.Message);
        float[][] withNaN = good.Select(f => (float[])f.Clone()).ToArray();
        withNaN[2][1] = float.NaN;
        Assert.Throws<ArgumentException>(() => Mauve.Compute(withNaN, good, Fast));
        Assert.Throws<ArgumentException>(() => Mauve.Compute([], good, Fast));
        Assert.Throws<ArgumentException>(() => Mauve.Compute(good, good, Fast with { Buckets = 100 }));
    }
}
