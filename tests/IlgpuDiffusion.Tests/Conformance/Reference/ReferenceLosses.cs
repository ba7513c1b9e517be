using IlgpuDiffusion.Compute;
using DivergenceKind = IlgpuDiffusion.Compute.Divergence;

namespace IlgpuDiffusion.Tests.Conformance.Reference;

/// <summary>Scalar double-precision oracle for SUBS, the cross-entropy, divergences and sampling.</summary>
public static class ReferenceLosses
{
    /// <summary>The SUBS MASK penalty.</summary>
    public const double MaskPenalty = -1e6;

    /// <summary>SUBS log-softmax of one row: MASK logit − 1e6, then log-softmax.</summary>
    public static double[] SubsLogSoftmax(double[] row, int maskIndex)
    {
        var adjusted = (double[])row.Clone();
        adjusted[maskIndex] += MaskPenalty;
        double max = adjusted.Max();
        double lse = max + Math.Log(adjusted.Sum(v => Math.Exp(v - max)));
        return adjusted.Select(v => v - lse).ToArray();
    }

    /// <summary>Row-wise SUBS log-softmax of a [rows, classes] matrix.</summary>
    public static double[] SubsLogSoftmax(double[] logits, int rows, int classes, int maskIndex) =>
        Enumerable.Range(0, rows).SelectMany(r => SubsLogSoftmax(logits[(r * classes)..((r + 1) * classes)], maskIndex)).ToArray();

    /// <summary>Per-row weighted SUBS cross-entropy: w·(−log p[target]).</summary>
    public static double[] SubsCrossEntropy(double[] logits, int[] targets, double[] weights, int classes, int maskIndex) =>
        targets.Select((target, r) => weights[r] == 0 ? 0 :
            -weights[r] * SubsLogSoftmax(logits[(r * classes)..((r + 1) * classes)], maskIndex)[target]).ToArray();

    /// <summary>The divergence of one row given the student's raw logits and the teacher's log-probs (MASK excluded).</summary>
    public static double Divergence(Divergence kind, double[] studentLogits, double[] teacherLogProbs, int maskIndex)
    {
        var s = SubsLogSoftmax(studentLogits, maskIndex);
        var t = teacherLogProbs;
        double total = 0;
        for (int v = 0; v < s.Length; v++)
        {
            if (v == maskIndex) continue;
            double ps = Math.Exp(s[v]), pt = Math.Exp(t[v]);
            total += kind switch
            {
                DivergenceKind.ReverseKl => ps * (s[v] - t[v]),
                DivergenceKind.ForwardKl => pt * (t[v] - s[v]),
                DivergenceKind.LogProbMse => (s[v] - t[v]) * (s[v] - t[v]) / s.Length,
                DivergenceKind.TotalVariation => 0.5 * Math.Abs(ps - pt),
                _ => Math.Abs(s[v] - t[v]),
            };
        }
        return total;
    }

    /// <summary>The id a categorical draw picks for one row (same Philox stream as every backend).</summary>
    public static int Sample(double[] row, int r, int vocab, SamplingParameters p)
    {
        var scaled = row.Take(vocab).Select(v => (double)(float)v * (1.0 / p.Temperature)).ToArray();
        double threshold = NucleusThreshold(scaled, p.TopP);
        return p.Draw == CategoricalDraw.InverseCdf ? InverseCdf(scaled, threshold, r, p) : Race(scaled, threshold, r, vocab, p);
    }

    /// <summary>The scaled value of the smallest nucleus member (−∞ without a nucleus).</summary>
    public static double NucleusThreshold(double[] scaled, float topP)
    {
        double threshold = double.NegativeInfinity;
        if (topP >= 1f) return threshold;
        double max = scaled.Max(), sum = scaled.Sum(v => Math.Exp(v - max)), mass = 0;
        foreach (double v in scaled.OrderByDescending(v => v))
        {
            mass += Math.Exp(v - max);
            threshold = v;
            if (mass >= topP * sum) break;
        }
        return threshold;
    }

    private static int InverseCdf(double[] scaled, double threshold, int r, SamplingParameters p)
    {
        double max = scaled.Max();
        double[] mass = scaled.Select(v => v < threshold ? 0 : Math.Exp(v - max)).ToArray();
        double target = Philox.UniformDouble(p.Seed, p.Step, p.FirstRow + r) * mass.Sum(), running = 0;
        int last = -1;
        for (int v = 0; v < mass.Length; v++)
        {
            if (mass[v] == 0) continue;
            running += mass[v];
            if (running > target) return v;
            last = v;
        }
        return last;
    }

    private static int Race(double[] scaled, double threshold, int r, int vocab, SamplingParameters p)
    {
        int best = -1;
        double bestScore = double.NegativeInfinity;
        for (int v = 0; v < vocab; v++)
        {
            if (scaled[v] < threshold) continue;
            double u = Philox.UniformDouble(p.Seed, p.Step, (p.FirstRow + r) * vocab + v);
            double score = scaled[v] - Math.Log(-Math.Log(u + 1e-10) + 1e-10);
            if (score > bestScore) (best, bestScore) = (v, score);
        }
        return best;
    }
}
