using Xunit;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>Random test data, closeness assertions and finite differences.</summary>
public static class Numerics
{
    /// <summary>Uniform floats in [−scale, scale) from a fixed seed.</summary>
    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var data = new float[length];
        for (int i = 0; i < length; i++) data[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return data;
    }

    /// <summary>Widens floats to doubles (exactly).</summary>
    public static double[] D(float[] x) => Array.ConvertAll(x, v => (double)v);

    /// <summary>Element-wise sum of two arrays.</summary>
    public static double[] Add(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();

    /// <summary>
    /// Asserts max_i |actual − expected| / max(|expected_i|, 1e-2·max|expected|, 1e-6) ≤ tolerance:
    /// relative error, with a floor so that entries that cancel to near zero are judged against the array's scale.
    /// </summary>
    public static void AssertClose(double[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Length == 0 ? 0 : expected.Max(Math.Abs);
        double floor = Math.Max(1e-2 * scale, 1e-6);
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / Math.Max(Math.Abs(expected[i]), floor);
            if (double.IsNaN(actual[i]) || error > worst)
            {
                worst = double.IsNaN(actual[i]) ? double.PositiveInfinity : error;
                worstAt = i;
            }
        }
        if (worst > tolerance)
            Assert.Fail($"{what}: relative error {worst:E3} > {tolerance:E1} at [{worstAt}] (expected {expected[worstAt]:G9}, " +
                $"got {actual[worstAt]:G9}).");
    }

    /// <summary>
    /// ∂L/∂x by central differences in double, where L = Σ_i upstream[i]·forward(x)[i].
    /// </summary>
    public static double[] FiniteDifference(Func<double[], double[]> forward, double[] x, double[] upstream, double step = 1e-6)
    {
        var gradient = new double[x.Length];
        var probe = (double[])x.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            probe[i] = x[i] + step;
            double plus = Dot(forward(probe), upstream);
            probe[i] = x[i] - step;
            double minus = Dot(forward(probe), upstream);
            probe[i] = x[i];
            gradient[i] = (plus - minus) / (2 * step);
        }
        return gradient;
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}
