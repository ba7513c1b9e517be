using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Tests.Conformance.Reference;

/// <summary>Scalar double-precision oracle for activations, dropout and the optimizer ops.</summary>
public static class ReferenceElementwise
{
    private const double GeluC = 0.79788456080286535588, GeluA = 0.044715;

    /// <summary>GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(GeluC * (x + GeluA * x * x * x)));

    /// <summary>d GELU / dx.</summary>
    public static double GeluDerivative(double x)
    {
        double t = Math.Tanh(GeluC * (x + GeluA * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GeluC * (1 + 3 * GeluA * x * x);
    }

    /// <summary>SiLU: x·σ(x).</summary>
    public static double Silu(double x) => x / (1 + Math.Exp(-x));

    /// <summary>d SiLU / dx = σ + x·σ·(1 − σ).</summary>
    public static double SiluDerivative(double x)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return s + x * s * (1 - s);
    }

    /// <summary>The dropout multiplier of element i: 1/(1−p) when kept, else 0.</summary>
    public static double DropoutFactor(int i, double p, ulong seed, ulong stream) =>
        Philox.Uniform(seed, stream, i) >= (float)p ? 1 / (1 - (double)(float)p) : 0;

    /// <summary>One AdamW step (PyTorch semantics), returning the new parameters and moments.</summary>
    public static (double[] Parameters, double[] M, double[] V) AdamW(double[] p, double[] g, double[] m, double[] v,
        AdamWParameters h, int step, double gradScale)
    {
        var (np, nm, nv) = (new double[p.Length], new double[p.Length], new double[p.Length]);
        double c1 = 1 - Math.Pow(h.Beta1, step), c2 = 1 - Math.Pow(h.Beta2, step);
        for (int i = 0; i < p.Length; i++)
        {
            double grad = g[i] * gradScale;
            nm[i] = h.Beta1 * m[i] + (1 - (double)h.Beta1) * grad;
            nv[i] = h.Beta2 * v[i] + (1 - (double)h.Beta2) * grad * grad;
            double decayed = p[i] * (1 - (double)h.LearningRate * h.WeightDecay);
            np[i] = decayed - h.LearningRate * (nm[i] / c1) / (Math.Sqrt(nv[i] / c2) + h.Epsilon);
        }
        return (np, nm, nv);
    }
}
