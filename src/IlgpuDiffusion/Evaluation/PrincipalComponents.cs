using System.Numerics.Tensors;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Principal component analysis as scikit-learn's <c>PCA(whiten=False)</c> computes it: centre the rows,
/// eigen-decompose the covariance (d × d, in double), sort components by explained variance. Cost
/// O(n·d²) for the covariance plus O(d³) for <see cref="SymmetricEigen"/>.
/// </summary>
internal sealed class PrincipalComponents
{
    private readonly double[] _mean;       // [dimension]
    private readonly double[] _components; // [dimension, dimension], row i = component i

    private PrincipalComponents(int dimension, double[] mean, double[] components, double[] explainedVarianceRatio)
    {
        Dimension = dimension;
        _mean = mean;
        _components = components;
        ExplainedVarianceRatio = explainedVarianceRatio;
    }

    /// <summary>Width of the input rows.</summary>
    public int Dimension { get; }

    /// <summary>Share of the total variance along each component, in descending order (all 0 when every row is the same).</summary>
    public IReadOnlyList<double> ExplainedVarianceRatio { get; }

    /// <summary>
    /// Fits the components to <paramref name="rows"/> (at least two rows, all of width <paramref name="dimension"/>, finite).
    /// </summary>
    public static PrincipalComponents Fit(IReadOnlyList<float[]> rows, int dimension)
    {
        int n = rows.Count;
        if (n < 2) throw new ArgumentException($"PCA needs at least two rows, got {n}.", nameof(rows));
        var mean = new double[dimension];
        foreach (float[] row in rows)
        {
            for (int j = 0; j < dimension; j++) mean[j] += row[j];
        }
        TensorPrimitives.Divide(mean, n, mean);

        // Centred data, transposed: column j of the data is a contiguous row, so each covariance entry is one dot product.
        var columns = new double[(long)dimension * n]; // [dimension, n]
        for (int i = 0; i < n; i++)
        {
            float[] row = rows[i];
            for (int j = 0; j < dimension; j++) columns[(long)j * n + i] = row[j] - mean[j];
        }
        var covariance = new double[dimension * dimension];
        Parallel.For(0, dimension, i =>
        {
            ReadOnlySpan<double> columnI = columns.AsSpan(i * n, n);
            for (int j = i; j < dimension; j++)
            {
                double value = TensorPrimitives.Dot(columnI, columns.AsSpan(j * n, n)) / (n - 1);
                covariance[i * dimension + j] = value;
                covariance[j * dimension + i] = value;
            }
        });

        double[] variances = SymmetricEigen.DecomposeInPlace(covariance, dimension);
        for (int i = 0; i < variances.Length; i++) variances[i] = Math.Max(variances[i], 0); // round-off below zero
        double total = TensorPrimitives.Sum<double>(variances);
        if (total > 0) TensorPrimitives.Divide(variances, total, variances);
        return new PrincipalComponents(dimension, mean, covariance, variances);
    }

    /// <summary>
    /// The fewest leading components whose explained variance ratios sum to at least
    /// <paramref name="explainedVariance"/> (scikit-learn's <c>argmax(cumsum ≥ v) + 1</c>); 1 when there is no variance.
    /// </summary>
    public int ComponentsFor(double explainedVariance)
    {
        double cumulative = 0;
        for (int i = 0; i < ExplainedVarianceRatio.Count; i++)
        {
            cumulative += ExplainedVarianceRatio[i];
            if (cumulative >= explainedVariance) return i + 1;
        }
        return cumulative > 0 ? ExplainedVarianceRatio.Count : 1;
    }

    /// <summary>Projects the centred rows on the first <paramref name="count"/> components: [rows, count], row-major.</summary>
    public float[] Project(IReadOnlyList<float[]> rows, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Dimension);
        var projected = new float[(long)rows.Count * count];
        Parallel.For(0, rows.Count, () => new double[Dimension], (i, _, centred) =>
        {
            float[] row = rows[i];
            for (int j = 0; j < Dimension; j++) centred[j] = row[j] - _mean[j];
            for (int c = 0; c < count; c++)
                projected[(long)i * count + c] = (float)TensorPrimitives.Dot(centred, _components.AsSpan(c * Dimension, Dimension));
            return centred;
        }, _ => { });
        return projected;
    }
}
