using System.Numerics;
using System.Numerics.Tensors;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Eigen-decomposition of a real symmetric matrix: Householder reduction to tridiagonal form, then the
/// implicit QL algorithm with Wilkinson shifts (EISPACK <c>tred2</c>/<c>tql2</c>, as in JAMA), O(d³).
/// Everything runs on the transposed eigenvector matrix, so that every inner loop walks a contiguous
/// row (SIMD through <see cref="TensorPrimitives"/>); a 1280 × 1280 matrix takes seconds, not minutes.
/// </summary>
internal static class SymmetricEigen
{
    /// <summary>
    /// Eigenvalues in descending order and, row by row in the same order, unit eigenvectors of the
    /// symmetric <paramref name="size"/> × <paramref name="size"/> matrix <paramref name="matrix"/> (row-major; it must be
    /// symmetric and finite, neither is checked). <paramref name="matrix"/> is overwritten by the eigenvectors:
    /// row i of it is the eigenvector of eigenvalue i.
    /// </summary>
    /// <exception cref="ArgumentException">The buffer is not <paramref name="size"/>² long.</exception>
    /// <exception cref="ArithmeticException">The QL iteration did not converge (never seen on a finite matrix).</exception>
    public static double[] DecomposeInPlace(double[] matrix, int size)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (matrix.Length != (long)size * size)
            throw new ArgumentException($"A {size} × {size} matrix needs {(long)size * size} values, got {matrix.Length}.", nameof(matrix));
        var diagonal = new double[size];
        var offDiagonal = new double[size];
        Tridiagonalize(matrix, size, diagonal, offDiagonal);
        DiagonalizeTridiagonal(matrix, size, diagonal, offDiagonal);
        SortDescending(matrix, size, diagonal);
        return diagonal;
    }

    private static Span<double> Row(double[] w, int size, int row) => w.AsSpan(row * size, size);

    /// <summary>Householder reduction (tred2) on W = Vᵀ; leaves W = the accumulated orthogonal transform, transposed.</summary>
    private static void Tridiagonalize(double[] w, int n, double[] d, double[] e)
    {
        for (int j = 0; j < n; j++) d[j] = w[j * n + n - 1];
        for (int i = n - 1; i > 0; i--)
        {
            double scale = 0, h = 0;
            for (int k = 0; k < i; k++) scale += Math.Abs(d[k]);
            if (scale == 0)
            {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++)
                {
                    d[j] = w[j * n + i - 1];
                    w[j * n + i] = 0;
                    w[i * n + j] = 0;
                }
            }
            else
            {
                for (int k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }
                double f = d[i - 1];
                double g = Math.Sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                Array.Clear(e, 0, i);
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    w[i * n + j] = f;
                    Span<double> rowJ = Row(w, n, j);
                    g = e[j] + rowJ[j] * f;
                    if (j + 1 < i)
                    {
                        ReadOnlySpan<double> tail = rowJ[(j + 1)..i];
                        g += TensorPrimitives.Dot(tail, d.AsSpan((j + 1)..i));
                        TensorPrimitives.MultiplyAdd(tail, f, e.AsSpan((j + 1)..i), e.AsSpan((j + 1)..i));
                    }
                    e[j] = g;
                }
                f = 0;
                for (int j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    Span<double> segment = Row(w, n, j)[j..i];
                    TensorPrimitives.MultiplyAdd(e.AsSpan(j..i), -f, segment, segment);
                    TensorPrimitives.MultiplyAdd(d.AsSpan(j..i), -g, segment, segment);
                    d[j] = w[j * n + i - 1];
                    w[j * n + i] = 0;
                }
            }
            d[i] = h;
        }

        for (int i = 0; i < n - 1; i++)
        {
            w[i * n + n - 1] = w[i * n + i];
            w[i * n + i] = 1;
            double h = d[i + 1];
            Span<double> next = Row(w, n, i + 1)[..(i + 1)];
            if (h != 0)
            {
                TensorPrimitives.Divide(next, h, d.AsSpan(0, i + 1));
                for (int j = 0; j <= i; j++)
                {
                    Span<double> rowJ = Row(w, n, j)[..(i + 1)];
                    double g = TensorPrimitives.Dot(next, rowJ);
                    TensorPrimitives.MultiplyAdd(d.AsSpan(0, i + 1), -g, rowJ, rowJ);
                }
            }
            next.Clear();
        }
        for (int j = 0; j < n; j++)
        {
            d[j] = w[j * n + n - 1];
            w[j * n + n - 1] = 0;
        }
        w[(n - 1) * n + n - 1] = 1;
        e[0] = 0;
    }

    /// <summary>Implicit QL with shifts (tql2) on the tridiagonal (d, e); rotates the rows of W.</summary>
    private static void DiagonalizeTridiagonal(double[] w, int n, double[] d, double[] e)
    {
        for (int i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0;
        double f = 0, largest = 0;
        const double epsilon = 2.220446049250313e-16; // 2^-52
        const int maxIterations = 60;
        for (int l = 0; l < n; l++)
        {
            largest = Math.Max(largest, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n && Math.Abs(e[m]) > epsilon * largest) m++;
            if (m == n) m = n - 1;
            if (m > l)
            {
                int iteration = 0;
                do
                {
                    if (++iteration > maxIterations)
                        throw new ArithmeticException($"The symmetric eigen-solver did not converge at eigenvalue {l} of {n} " +
                            $"within {maxIterations} QL iterations.");
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2 * e[l]);
                    double r = double.Hypot(p, 1);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;

                    p = d[m];
                    double c = 1, c2 = c, c3 = c, el1 = e[l + 1], s = 0, s2 = 0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = double.Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        Rotate(Row(w, n, i), Row(w, n, i + 1), c, s);
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                } while (Math.Abs(e[l]) > epsilon * largest);
            }
            d[l] += f;
            e[l] = 0;
        }
    }

    /// <summary>(a, b) ← (c·a − s·b, s·a + c·b), element by element.</summary>
    private static void Rotate(Span<double> a, Span<double> b, double c, double s)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vc = new Vector<double>(c);
            var vs = new Vector<double>(s);
            for (; k <= a.Length - Vector<double>.Count; k += Vector<double>.Count)
            {
                var ak = new Vector<double>(a[k..]);
                var bk = new Vector<double>(b[k..]);
                (vc * ak - vs * bk).CopyTo(a[k..]);
                (vs * ak + vc * bk).CopyTo(b[k..]);
            }
        }
        for (; k < a.Length; k++)
        {
            double ak = a[k], bk = b[k];
            a[k] = c * ak - s * bk;
            b[k] = s * ak + c * bk;
        }
    }

    private static void SortDescending(double[] w, int n, double[] d)
    {
        for (int i = 0; i < n - 1; i++)
        {
            int best = i;
            for (int j = i + 1; j < n; j++)
            {
                if (d[j] > d[best]) best = j;
            }
            if (best == i) continue;
            (d[i], d[best]) = (d[best], d[i]);
            Span<double> first = Row(w, n, i), second = Row(w, n, best);
            for (int k = 0; k < n; k++) (first[k], second[k]) = (second[k], first[k]);
        }
    }
}
