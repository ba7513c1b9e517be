using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Tests.Distillation;

/// <summary>
/// A deterministic host-side teacher: the logit of class v at position l of sequence b is
/// 3·sin(1.3·l + 0.7·v + 0.11·Σ_{j unmasked} (z_j + 1)(j + 1)), so each prediction depends on the whole visible
/// context of its sequence; SUBS log-probs (MASK −1e6) are computed in double, −∞ on the head's padding. Records the
/// rows it serves per pass.
/// </summary>
internal sealed class ToyTeacher(HeadLayout head, int tokens) : ITeacher
{
    private int[] _state = [];

    public HeadLayout Head => head;

    public int Mask => head.MaskIndex;

    /// <summary>For each <see cref="Prepare"/>d state, the rows served from it.</summary>
    public List<int> RowsPerPass { get; } = [];

    public void Prepare(Tensor<int> ids, ReadOnlySpan<float> sigma)
    {
        _state = ids.ToArray();
        RowsPerPass.Add(0);
    }

    public void LogProbs(Tensor<int> rows, int count, Tensor<float> logProbs)
    {
        RowsPerPass[^1] += count;
        int[] rowIndices = rows.ToArray();
        var output = new float[count * head.Width];
        for (int i = 0; i < count; i++)
            Expected(_state, rowIndices[i]).CopyTo(output, i * head.Width);
        logProbs.CopyFrom(output);
    }

    /// <summary>The log-probs this teacher gives row <paramref name="row"/> of <paramref name="state"/>.</summary>
    public float[] Expected(int[] state, int row)
    {
        int b = row / tokens, l = row % tokens;
        double context = 0;
        for (int j = 0; j < tokens; j++)
            if (state[b * tokens + j] != Mask) context += (state[b * tokens + j] + 1.0) * (j + 1);
        var logits = new double[head.Width];
        for (int v = 0; v < head.Vocab; v++) logits[v] = 3 * Math.Sin(1.3 * l + 0.7 * v + 0.11 * context);
        logits[Mask] = double.NegativeInfinity;
        for (int v = head.Vocab; v < head.Width; v++) logits[v] = double.NegativeInfinity;
        double max = logits.Max(), sum = logits.Sum(x => Math.Exp(x - max));
        var result = logits.Select(x => (float)(x - max - Math.Log(sum))).ToArray();
        result[Mask] = -1e6f;
        return result;
    }
}
