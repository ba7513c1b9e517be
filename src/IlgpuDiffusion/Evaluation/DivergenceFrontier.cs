namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// The divergence frontier of two histograms P and Q and the area under it (Pillutla et al. 2021, MAUVE).
/// For each mixture R_λ = λP + (1 − λ)Q the frontier holds the point
/// (exp(−c·KL(Q‖R_λ)), exp(−c·KL(P‖R_λ))), closed by the extreme points (1, 0) and (0, 1); MAUVE is the
/// area under that curve: 1 when P = Q, near 0 when they share no bucket.
/// </summary>
internal static class DivergenceFrontier
{
    /// <summary>
    /// The reference's mixture weights: <paramref name="count"/> values evenly spaced from 10⁻⁶ to 1 − 10⁻⁶
    /// (<c>np.linspace(1e-6, 1 - 1e-6, 25)</c> by default).
    /// </summary>
    public static double[] MixtureWeights(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        const double low = 1e-6, high = 1 - 1e-6;
        var weights = new double[count];
        for (int i = 0; i < count; i++) weights[i] = low + (high - low) * i / (count - 1);
        return weights;
    }

    /// <summary>
    /// Frontier points for the given mixture weights λ ∈ (0, 1), with the two extreme points first and last:
    /// (1, 0), then one point per λ in ascending order, then (0, 1).
    /// </summary>
    /// <param name="p">Histogram of the model samples (non-negative, sums to 1).</param>
    /// <param name="q">Histogram of the references, same length as <paramref name="p"/>.</param>
    /// <param name="scalingFactor">The constant c (MAUVE's default 5).</param>
    /// <exception cref="ArgumentException">The histograms differ in length, hold a negative or non-finite value, or a
    /// weight is outside (0, 1).</exception>
    public static (double X, double Y)[] Curve(ReadOnlySpan<double> p, ReadOnlySpan<double> q, ReadOnlySpan<double> mixtureWeights,
        double scalingFactor)
    {
        if (p.Length != q.Length)
            throw new ArgumentException($"The histograms differ in length: {p.Length} and {q.Length} buckets.", nameof(q));
        CheckHistogram(p, nameof(p));
        CheckHistogram(q, nameof(q));
        if (!(scalingFactor > 0) || double.IsInfinity(scalingFactor))
            throw new ArgumentOutOfRangeException(nameof(scalingFactor), scalingFactor, "The scaling factor must be positive and finite.");
        double[] sorted = mixtureWeights.ToArray();
        Array.Sort(sorted);
        var curve = new (double X, double Y)[sorted.Length + 2];
        curve[0] = (1, 0);
        var mixture = new double[p.Length];
        for (int i = 0; i < sorted.Length; i++)
        {
            double lambda = sorted[i];
            if (!(lambda > 0 && lambda < 1))
                throw new ArgumentException($"Mixture weight {lambda} is outside (0, 1).", nameof(mixtureWeights));
            for (int b = 0; b < p.Length; b++) mixture[b] = lambda * p[b] + (1 - lambda) * q[b];
            curve[i + 1] = (Math.Exp(-scalingFactor * KullbackLeibler(q, mixture)), Math.Exp(-scalingFactor * KullbackLeibler(p, mixture)));
        }
        curve[^1] = (0, 1);
        return curve;
    }

    /// <summary>
    /// MAUVE's area: the mean of the trapezoidal area under the curve taken along X and along Y (equal for a
    /// monotone curve; the mean evens out round-off). Points that tie on the sorting coordinate are ordered by the
    /// other coordinate descending, which follows the non-increasing frontier (the reference leaves that order to
    /// <c>np.argsort</c>).
    /// </summary>
    public static double Area(IReadOnlyList<(double X, double Y)> curve)
    {
        ArgumentNullException.ThrowIfNull(curve);
        if (curve.Count < 2) throw new ArgumentException("An area needs at least two curve points.", nameof(curve));
        double alongX = Trapezoid(curve.Select(point => (point.X, point.Y)));
        double alongY = Trapezoid(curve.Select(point => (point.Y, point.X)));
        return 0.5 * (alongX + alongY);
    }

    private static double Trapezoid(IEnumerable<(double Abscissa, double Ordinate)> points)
    {
        var ordered = points.OrderBy(point => point.Abscissa).ThenByDescending(point => point.Ordinate).ToArray();
        double area = 0;
        for (int i = 1; i < ordered.Length; i++)
            area += (ordered[i].Abscissa - ordered[i - 1].Abscissa) * (ordered[i].Ordinate + ordered[i - 1].Ordinate) / 2;
        return area;
    }

    /// <summary>KL(a‖b) in nats; +∞ when a has mass where b has none.</summary>
    private static double KullbackLeibler(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] == 0) continue;
            if (b[i] == 0) return double.PositiveInfinity;
            sum += a[i] * Math.Log(a[i] / b[i]);
        }
        return sum;
    }

    private static void CheckHistogram(ReadOnlySpan<double> histogram, string name)
    {
        if (histogram.IsEmpty) throw new ArgumentException("A histogram needs at least one bucket.", name);
        for (int i = 0; i < histogram.Length; i++)
        {
            if (!(histogram[i] >= 0) || double.IsInfinity(histogram[i]))
                throw new ArgumentException($"Bucket {i} holds {histogram[i]}; a histogram holds finite non-negative values.", name);
        }
    }
}
