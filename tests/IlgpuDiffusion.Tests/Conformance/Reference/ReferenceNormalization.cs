namespace IlgpuDiffusion.Tests.Conformance.Reference;

/// <summary>Scalar double-precision oracle for LayerNorm, adaLN modulation and the gated residual.</summary>
public static class ReferenceNormalization
{
    /// <summary>LayerNorm without bias (biased variance): y, and the saved mean and rstd per row.</summary>
    public static (double[] Output, double[] Mean, double[] Rstd) LayerNorm(double[] x, double[] w, int rows, int channels, double eps)
    {
        var y = new double[rows * channels];
        var mean = new double[rows];
        var rstd = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double m = 0;
            for (int c = 0; c < channels; c++) m += x[r * channels + c];
            m /= channels;
            double v = 0;
            for (int c = 0; c < channels; c++) v += (x[r * channels + c] - m) * (x[r * channels + c] - m);
            v /= channels;
            double s = 1 / Math.Sqrt(v + eps);
            for (int c = 0; c < channels; c++) y[r * channels + c] = (x[r * channels + c] - m) * s * w[c];
            mean[r] = m;
            rstd[r] = s;
        }
        return (y, mean, rstd);
    }

    /// <summary>Analytic LayerNorm gradients: dx and dw.</summary>
    public static (double[] DInput, double[] DWeight) LayerNormBackward(double[] dy, double[] x, double[] w, int rows,
        int channels, double eps)
    {
        var (_, mean, rstd) = LayerNorm(x, w, rows, channels, eps);
        var dx = new double[rows * channels];
        var dw = new double[channels];
        for (int r = 0; r < rows; r++)
        {
            double meanG = 0, meanGx = 0;
            for (int c = 0; c < channels; c++)
            {
                double xHat = (x[r * channels + c] - mean[r]) * rstd[r];
                double g = dy[r * channels + c] * w[c];
                dw[c] += dy[r * channels + c] * xHat;
                meanG += g;
                meanGx += g * xHat;
            }
            meanG /= channels;
            meanGx /= channels;
            for (int c = 0; c < channels; c++)
            {
                double xHat = (x[r * channels + c] - mean[r]) * rstd[r];
                double g = dy[r * channels + c] * w[c];
                dx[r * channels + c] = rstd[r] * (g - meanG - xHat * meanGx);
            }
        }
        return (dx, dw);
    }

    /// <summary>
    /// QK-norm of packed qkv [rows, 3, heads, headDim]: every head of q and k through <see cref="LayerNorm"/> with
    /// weight [2, headDim] (q's, then k's); v copied. Also x̂ [2, rows, heads, headDim] and rstd [2, rows, heads].
    /// </summary>
    public static (double[] Output, double[] Normalized, double[] Rstd) QkNorm(double[] qkv, double[] w, int rows, int heads,
        int headDim, double eps)
    {
        var output = (double[])qkv.Clone();
        var normalized = new double[2 * rows * heads * headDim];
        var rstd = new double[2 * rows * heads];
        for (int slot = 0; slot < 2; slot++)
        {
            double[] vectors = QkVectors(qkv, slot, rows, heads, headDim);
            var ones = Enumerable.Repeat(1.0, headDim).ToArray();
            var (xHat, _, s) = LayerNorm(vectors, ones, rows * heads, headDim, eps);
            var (y, _, _) = LayerNorm(vectors, w[(slot * headDim)..((slot + 1) * headDim)], rows * heads, headDim, eps);
            xHat.CopyTo(normalized, slot * xHat.Length);
            s.CopyTo(rstd, slot * s.Length);
            for (int v = 0; v < rows * heads; v++)
                Array.Copy(y, v * headDim, output, QkOffset(v, slot, heads, headDim), headDim);
        }
        return (output, normalized, rstd);
    }

    /// <summary>The heads of q (slot 0) or k (slot 1) of packed qkv as [rows·heads, headDim] vectors.</summary>
    private static double[] QkVectors(double[] qkv, int slot, int rows, int heads, int headDim)
    {
        var vectors = new double[rows * heads * headDim];
        for (int v = 0; v < rows * heads; v++)
            Array.Copy(qkv, QkOffset(v, slot, heads, headDim), vectors, v * headDim, headDim);
        return vectors;
    }

    private static int QkOffset(int vector, int slot, int heads, int headDim) =>
        ((vector / heads * 3 + slot) * heads + vector % heads) * headDim;

    /// <summary>y[b,t,c] = x[b,t,c]·(1 + scale[b,c]) + shift[b,c].</summary>
    public static double[] Modulate(double[] x, double[] shift, double[] scale, int batch, int tokens, int channels)
    {
        var y = new double[x.Length];
        ForEach(batch, tokens, channels, (i, v) => y[i] = x[i] * (1 + scale[v]) + shift[v]);
        return y;
    }

    /// <summary>Gradients of the modulation: dx, dShift, dScale.</summary>
    public static (double[] DInput, double[] DShift, double[] DScale) ModulateBackward(double[] dy, double[] x, double[] scale,
        int batch, int tokens, int channels)
    {
        var dx = new double[x.Length];
        var dShift = new double[batch * channels];
        var dScale = new double[batch * channels];
        ForEach(batch, tokens, channels, (i, v) =>
        {
            dx[i] = dy[i] * (1 + scale[v]);
            dShift[v] += dy[i];
            dScale[v] += dy[i] * x[i];
        });
        return (dx, dShift, dScale);
    }

    /// <summary>y = residual + gate[b,c]·branch.</summary>
    public static double[] GatedResidual(double[] residual, double[] branch, double[] gate, int batch, int tokens, int channels)
    {
        var y = new double[residual.Length];
        ForEach(batch, tokens, channels, (i, v) => y[i] = residual[i] + gate[v] * branch[i]);
        return y;
    }

    /// <summary>Gradients of the gated residual with respect to branch and gate.</summary>
    public static (double[] DBranch, double[] DGate) GatedResidualBackward(double[] dy, double[] branch, double[] gate,
        int batch, int tokens, int channels)
    {
        var dBranch = new double[branch.Length];
        var dGate = new double[batch * channels];
        ForEach(batch, tokens, channels, (i, v) =>
        {
            dBranch[i] = gate[v] * dy[i];
            dGate[v] += dy[i] * branch[i];
        });
        return (dBranch, dGate);
    }

    /// <summary>Calls body(element index, per-sequence vector index) for every (b, t, c) in order.</summary>
    private static void ForEach(int batch, int tokens, int channels, Action<int, int> body)
    {
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tokens; t++)
                for (int c = 0; c < channels; c++)
                    body((b * tokens + t) * channels + c, b * channels + c);
    }
}
