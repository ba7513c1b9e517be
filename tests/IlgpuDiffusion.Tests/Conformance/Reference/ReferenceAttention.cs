namespace IlgpuDiffusion.Tests.Conformance.Reference;

/// <summary>
/// Scalar double-precision oracle for rotary embedding and softmax attention, with the layouts of
/// IKernels.Attention: qkv [batch, tokens, 3, heads, headDim], output [batch, tokens, heads, headDim],
/// logSumExp [batch, heads, tokens], rotary tables [positions, headDim/2].
/// </summary>
public static class ReferenceAttention
{
    /// <summary>Rotate-half rotary on q and k (v untouched) at positions positionOffset + t; a new array.</summary>
    public static double[] Rotary(double[] qkv, double[] cos, double[] sin, int batch, int tokens, int heads, int headDim,
        int positionOffset)
    {
        var y = (double[])qkv.Clone();
        int half = headDim / 2;
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tokens; t++)
                for (int slot = 0; slot < 2; slot++)
                    for (int h = 0; h < heads; h++)
                    {
                        int u = Index(b, t, slot, h, 0, tokens, heads, headDim);
                        for (int j = 0; j < half; j++)
                        {
                            double c = cos[(positionOffset + t) * half + j], s = sin[(positionOffset + t) * half + j];
                            double x1 = qkv[u + j], x2 = qkv[u + j + half];
                            y[u + j] = x1 * c - x2 * s;
                            y[u + j + half] = x1 * s + x2 * c;
                        }
                    }
        return y;
    }

    /// <summary>Softmax attention with scale 1/√headDim: the output and the log-sum-exp of every query row.</summary>
    public static (double[] Output, double[] LogSumExp) Forward(double[] qkv, int batch, int tokens, int heads, int headDim, bool causal)
    {
        var output = new double[batch * tokens * heads * headDim];
        var lse = new double[batch * heads * tokens];
        double scale = 1 / Math.Sqrt(headDim);
        var p = new double[tokens];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < tokens; i++)
                {
                    int keys = causal ? i + 1 : tokens;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < keys; j++)
                    {
                        p[j] = scale * Dot(qkv, Index(b, i, 0, h, 0, tokens, heads, headDim),
                            Index(b, j, 1, h, 0, tokens, heads, headDim), headDim);
                        max = Math.Max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < keys; j++) sum += p[j] = Math.Exp(p[j] - max);
                    for (int j = 0; j < keys; j++)
                        for (int d = 0; d < headDim; d++)
                            output[((b * tokens + i) * heads + h) * headDim + d] +=
                                p[j] / sum * qkv[Index(b, j, 2, h, d, tokens, heads, headDim)];
                    lse[(b * heads + h) * tokens + i] = max + Math.Log(sum);
                }
        return (output, lse);
    }

    /// <summary>Analytic gradient ∂L/∂qkv of L = Σ dOutput·output (softmax backward per row).</summary>
    public static double[] Backward(double[] dOutput, double[] qkv, int batch, int tokens, int heads, int headDim, bool causal)
    {
        var (_, lse) = Forward(qkv, batch, tokens, heads, headDim, causal);
        var dQkv = new double[qkv.Length];
        double scale = 1 / Math.Sqrt(headDim);
        var p = new double[tokens];
        var dp = new double[tokens];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < tokens; i++)
                {
                    int keys = causal ? i + 1 : tokens, qi = Index(b, i, 0, h, 0, tokens, heads, headDim);
                    int oi = ((b * tokens + i) * heads + h) * headDim;
                    double delta = 0;
                    for (int j = 0; j < keys; j++)
                    {
                        p[j] = Math.Exp(scale * Dot(qkv, qi, Index(b, j, 1, h, 0, tokens, heads, headDim), headDim)
                            - lse[(b * heads + h) * tokens + i]);
                        dp[j] = 0;
                        for (int d = 0; d < headDim; d++) dp[j] += dOutput[oi + d] * qkv[Index(b, j, 2, h, d, tokens, heads, headDim)];
                        delta += p[j] * dp[j];
                    }
                    for (int j = 0; j < keys; j++)
                    {
                        double ds = p[j] * (dp[j] - delta) * scale;
                        int kj = Index(b, j, 1, h, 0, tokens, heads, headDim), vj = Index(b, j, 2, h, 0, tokens, heads, headDim);
                        for (int d = 0; d < headDim; d++)
                        {
                            dQkv[qi + d] += ds * qkv[kj + d];
                            dQkv[kj + d] += ds * qkv[qi + d];
                            dQkv[vj + d] += p[j] * dOutput[oi + d];
                        }
                    }
                }
        return dQkv;
    }

    /// <summary>Flat index of qkv[b, t, slot, h, d].</summary>
    public static int Index(int b, int t, int slot, int h, int d, int tokens, int heads, int headDim) =>
        (((b * tokens + t) * 3 + slot) * heads + h) * headDim + d;

    private static double Dot(double[] x, int a, int b, int length)
    {
        double sum = 0;
        for (int d = 0; d < length; d++) sum += x[a + d] * x[b + d];
        return sum;
    }
}
