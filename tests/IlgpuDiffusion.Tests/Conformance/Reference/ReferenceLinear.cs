using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Tests.Conformance.Reference;

/// <summary>Scalar double-precision oracle for GEMM, Linear and embedding.</summary>
public static class ReferenceLinear
{
    /// <summary>c[m,n] = op(a)·op(b) with the layouts of <see cref="IKernels.MatMul"/>.</summary>
    public static double[] MatMul(MatMulLayout layout, double[] a, double[] b, int m, int n, int k)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = layout == MatMulLayout.AtB ? a[p * m + i] : a[i * k + p];
                    double bv = layout == MatMulLayout.ABt ? b[j * k + p] : b[p * n + j];
                    sum += av * bv;
                }
                c[i * n + j] = sum;
            }
        return c;
    }

    /// <summary>y[rows,out] = x[rows,in]·w[out,in]ᵀ + bias[out].</summary>
    public static double[] Linear(double[] x, double[] w, double[]? bias, int rows, int inChannels, int outChannels)
    {
        var y = MatMul(MatMulLayout.ABt, x, w, rows, outChannels, inChannels);
        if (bias != null)
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < outChannels; o++) y[r * outChannels + o] += bias[o];
        return y;
    }

    /// <summary>Gradients of Linear: dx = dy·w, dw = dyᵀ·x, db = Σ_rows dy.</summary>
    public static (double[] DInput, double[] DWeight, double[] DBias) LinearBackward(double[] dy, double[] x, double[] w,
        int rows, int inChannels, int outChannels)
    {
        var dx = MatMul(MatMulLayout.AB, dy, w, rows, inChannels, outChannels);
        var dw = MatMul(MatMulLayout.AtB, dy, x, outChannels, inChannels, rows);
        var db = new double[outChannels];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outChannels; o++) db[o] += dy[r * outChannels + o];
        return (dx, dw, db);
    }

    /// <summary>y[r] = table[ids[r]].</summary>
    public static double[] Embedding(int[] ids, double[] table, int channels)
    {
        var y = new double[ids.Length * channels];
        for (int r = 0; r < ids.Length; r++)
            Array.Copy(table, ids[r] * channels, y, r * channels, channels);
        return y;
    }

    /// <summary>dTable[v] = Σ_{r: ids[r]=v} dy[r].</summary>
    public static double[] EmbeddingBackward(int[] ids, double[] dy, int vocab, int channels)
    {
        var dTable = new double[vocab * channels];
        for (int r = 0; r < ids.Length; r++)
            for (int c = 0; c < channels; c++) dTable[ids[r] * channels + c] += dy[r * channels + c];
        return dTable;
    }
}
