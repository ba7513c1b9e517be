using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// A scalar GPT-2 forward in double, written from the Hugging Face definition and independent of the library's
/// kernels: weights as the HF state dict (Conv1D y = x·W + b with W [in, out]), pre-LayerNorm blocks with bias,
/// causal softmax attention with scale 1/√d_head, GELU-tanh, tied or untied head; rotary positions rotate q and k
/// with the rotate-half convention, θ = p·10000^(−2j/d_head).
/// </summary>
internal static class ReferenceGpt
{
    /// <summary>Logits [batch·tokens, V] of the sequences <paramref name="ids"/> [batch, tokens].</summary>
    public static double[] Logits(GptConfig c, IReadOnlyDictionary<string, float[]> w, int[] ids, int batch, int tokens)
    {
        int d = c.Hidden, v = c.Vocab;
        var logits = new double[batch * tokens * v];
        for (int b = 0; b < batch; b++)
        {
            var x = new double[tokens][];
            for (int t = 0; t < tokens; t++)
            {
                int id = ids[b * tokens + t];
                x[t] = Enumerable.Range(0, d).Select(j => (double)w["wte.weight"][id * d + j]
                    + (c.Positions == GptPositions.Learned ? w["wpe.weight"][t * d + j] : 0.0)).ToArray();
            }
            for (int l = 0; l < c.Layers; l++) x = Block(c, w, $"h.{l}.", x);
            var head = c.TiedHead ? w["wte.weight"] : w["lm_head.weight"];
            for (int t = 0; t < tokens; t++)
            {
                var h = LayerNorm(x[t], w["ln_f.weight"], w["ln_f.bias"]);
                for (int o = 0; o < v; o++)
                {
                    double sum = 0;
                    for (int j = 0; j < d; j++) sum += h[j] * head[o * d + j];
                    logits[(b * tokens + t) * v + o] = sum;
                }
            }
        }
        return logits;
    }

    private static double[][] Block(GptConfig c, IReadOnlyDictionary<string, float[]> w, string p, double[][] x)
    {
        int tokens = x.Length, d = c.Hidden, heads = c.Heads, hd = c.HeadDim;
        var qkv = x.Select(row => Conv1D(LayerNorm(row, w[p + "ln_1.weight"], w[p + "ln_1.bias"]),
            w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"])).ToArray();
        if (c.Positions == GptPositions.Rotary)
            for (int t = 0; t < tokens; t++)
                for (int slot = 0; slot < 2; slot++)
                    for (int h = 0; h < heads; h++) Rotate(qkv[t], slot * d + h * hd, hd, t);
        var attended = new double[tokens][];
        for (int t = 0; t < tokens; t++)
        {
            attended[t] = new double[d];
            for (int h = 0; h < heads; h++)
            {
                var scores = new double[t + 1];
                for (int s = 0; s <= t; s++)
                {
                    double dot = 0;
                    for (int j = 0; j < hd; j++) dot += qkv[t][h * hd + j] * qkv[s][d + h * hd + j];
                    scores[s] = dot / Math.Sqrt(hd);
                }
                double max = scores.Max(), total = scores.Sum(z => Math.Exp(z - max));
                for (int s = 0; s <= t; s++)
                    for (int j = 0; j < hd; j++) attended[t][h * hd + j] += Math.Exp(scores[s] - max) / total * qkv[s][2 * d + h * hd + j];
            }
        }
        var middle = x.Select((row, t) => Add(row, Conv1D(attended[t], w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"]))).ToArray();
        return middle.Select(row =>
        {
            var hidden = Conv1D(LayerNorm(row, w[p + "ln_2.weight"], w[p + "ln_2.bias"]), w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]);
            return Add(row, Conv1D(hidden.Select(Gelu).ToArray(), w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"]));
        }).ToArray();
    }

    /// <summary>x·W + b with W [in, out].</summary>
    private static double[] Conv1D(double[] x, float[] weight, float[] bias)
    {
        int outputs = bias.Length;
        var y = bias.Select(b => (double)b).ToArray();
        for (int i = 0; i < x.Length; i++)
            for (int o = 0; o < outputs; o++) y[o] += x[i] * weight[i * outputs + o];
        return y;
    }

    private static double[] LayerNorm(double[] x, float[] weight, float[] bias)
    {
        double mean = x.Average(), variance = x.Sum(v => (v - mean) * (v - mean)) / x.Length;
        double rstd = 1 / Math.Sqrt(variance + GptConfig.LayerNormEpsilon);
        return x.Select((v, j) => (v - mean) * rstd * weight[j] + bias[j]).ToArray();
    }

    private static void Rotate(double[] u, int start, int hd, int position)
    {
        int half = hd / 2;
        for (int j = 0; j < half; j++)
        {
            double angle = position * Math.Pow(10000, -2.0 * j / hd);
            double a = u[start + j], b = u[start + j + half];
            u[start + j] = a * Math.Cos(angle) - b * Math.Sin(angle);
            u[start + j + half] = a * Math.Sin(angle) + b * Math.Cos(angle);
        }
    }

    private static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    private static double[] Add(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();
}
