using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class SymmetricEigenTests
{
    [Fact]
    public void A_two_by_two_matrix_has_the_known_eigenpairs()
    {
        double[] matrix = [2, 1, 1, 2];
        double[] values = SymmetricEigen.DecomposeInPlace(matrix, 2);
        Assert.Equal(3, values[0], 12);
        Assert.Equal(1, values[1], 12);
        double r = Math.Sqrt(0.5);
        Assert.Equal(r, Math.Abs(matrix[0]), 12); // (1, 1)/√2 up to sign
        Assert.Equal(matrix[0], matrix[1], 12);
        Assert.Equal(r, Math.Abs(matrix[2]), 12); // (1, −1)/√2 up to sign
        Assert.Equal(-matrix[2], matrix[3], 12);
    }

    [Fact]
    public void A_diagonal_matrix_comes_back_sorted_with_unit_vectors()
    {
        double[] matrix = [1, 0, 0, 0, 5, 0, 0, 0, -2];
        double[] values = SymmetricEigen.DecomposeInPlace(matrix, 3);
        Assert.Equal([5, 1, -2], values);
        Assert.Equal(1, Math.Abs(matrix[0 * 3 + 1]), 12);
        Assert.Equal(1, Math.Abs(matrix[1 * 3 + 0]), 12);
        Assert.Equal(1, Math.Abs(matrix[2 * 3 + 2]), 12);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(48)]
    public void Random_symmetric_matrices_satisfy_the_eigen_equation_with_orthonormal_vectors(int size)
    {
        var random = new Random(size);
        var original = new double[size * size];
        for (int i = 0; i < size; i++)
        {
            for (int j = 0; j <= i; j++) original[i * size + j] = original[j * size + i] = random.NextDouble() * 2 - 1;
        }
        double[] vectors = (double[])original.Clone();
        double[] values = SymmetricEigen.DecomposeInPlace(vectors, size);

        double trace = 0;
        for (int i = 0; i < size; i++) trace += original[i * size + i];
        Assert.Equal(trace, values.Sum(), 9);
        for (int e = 0; e < size; e++)
        {
            if (e > 0) Assert.True(values[e] <= values[e - 1]);
            for (int i = 0; i < size; i++)
            {
                double av = 0;
                for (int k = 0; k < size; k++) av += original[i * size + k] * vectors[e * size + k];
                Assert.Equal(values[e] * vectors[e * size + i], av, 9);
            }
            for (int f = 0; f <= e; f++)
            {
                double dot = 0;
                for (int k = 0; k < size; k++) dot += vectors[e * size + k] * vectors[f * size + k];
                Assert.Equal(e == f ? 1 : 0, dot, 9);
            }
        }
    }

    [Fact]
    public void A_buffer_of_the_wrong_size_is_rejected() =>
        Assert.Throws<ArgumentException>(() => SymmetricEigen.DecomposeInPlace(new double[5], 2));
}
