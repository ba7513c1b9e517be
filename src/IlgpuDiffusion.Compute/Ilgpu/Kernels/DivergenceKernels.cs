using ILGPU;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>One divergence launch: the <see cref="Divergence"/> kind as an int, gradient written when HasGradient ≠ 0.</summary>
internal readonly record struct DivergenceArguments(int Kind, LogitRows Rows, float GradScale, int HasGradient);

/// <summary>
/// SDTT divergences between student logits (SUBS log-softmax on the fly) and teacher log-probs,
/// fused with d(student logits), one group per row like <see cref="LossKernels"/>. Per entry, with
/// s = log p_s, p = p_s, t = log p_t, the kernel forms a value term and w = ∂D/∂s; the logits gradient
/// is gradScale·(w − p·Σ_v w_v). The MASK entry takes no part: there s is replaced by t; the padding after the
/// vocabulary is not read, and its gradient is 0.
/// Three strided passes per row: the log-sum-exp (online), the sums, then (with a gradient) the recomputed w written out,
/// each element by the thread that read it, so the gradient may alias the student logits.
/// </summary>
internal static class DivergenceKernels
{
    /// <summary>values[r] = D(row r); dStudent [rows, classes] when requested. Grid: rows groups; shared Group.DimX floats.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void ForwardBackward(ArrayView<float> student, ArrayView<float> teacher, ArrayView<float> values,
        ArrayView<float> dStudent, DivergenceArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, start = row * a.Rows.Classes, vocab = a.Rows.Vocab;
        float max = LossKernels.RowMaxAndExpSum(shared, student, start, vocab, a.Rows.MaskIndex, out float sum);
        float lse = max + MathF.Log(sum), inverseSum = 1f / sum;

        float valueSum = 0f, wSum = 0f;
        for (int c = Group.IdxX; c < vocab; c += Group.DimX)
        {
            valueSum += Term(a, student[start + c], teacher[start + c], c, max, lse, inverseSum, out float w, out _);
            wSum += w;
        }
        float value = GroupReductions.Sum(shared, valueSum);
        float total = GroupReductions.Sum(shared, wSum);
        if (Group.IdxX == 0)
            values[row] = a.Kind == (int)Divergence.LogProbMse ? value / vocab
                : a.Kind == (int)Divergence.TotalVariation ? 0.5f * value : value;
        if (a.HasGradient == 0) return;
        for (int c = Group.IdxX; c < vocab; c += Group.DimX)
        {
            Term(a, student[start + c], teacher[start + c], c, max, lse, inverseSum, out float w, out float p);
            dStudent[start + c] = (w - p * total) * a.GradScale;
        }
        LossKernels.FillPadding(dStudent, start, a.Rows, 0f);
    }

    /// <summary>
    /// The value term of one entry (before the kind's ½ or 1/V factor) and, out, w = ∂D/∂s and p_s.
    /// ReverseKl: p(s − t), w = p(s − t) (its +p part vanishes after projection); ForwardKl: e^t(t − s), w = −e^t;
    /// LogProbMse: (s − t)², w = 2(s − t)/V; TotalVariation: |p − e^t|, w = ½·sign(p − e^t)·p; LogProbL1: |s − t|, w = sign(s − t).
    /// </summary>
    private static float Term(in DivergenceArguments a, float logit, float t, int c, float max, float lse, float inverseSum,
        out float w, out float p)
    {
        p = MathF.Exp(LossKernels.Subs(logit, c, a.Rows.MaskIndex) - max) * inverseSum;
        float s = c == a.Rows.MaskIndex ? t : logit - lse;
        float d = s - t;
        if (a.Kind == (int)Divergence.ReverseKl)
        {
            w = d * p;
            return w;
        }
        if (a.Kind == (int)Divergence.ForwardKl)
        {
            float e = MathF.Exp(t);
            w = -e;
            return e * t - e * s;
        }
        if (a.Kind == (int)Divergence.LogProbMse)
        {
            w = d * (2f / a.Rows.Vocab);
            return d * d;
        }
        if (a.Kind == (int)Divergence.TotalVariation)
        {
            float gap = p - MathF.Exp(t);
            w = 0.5f * Sign(gap) * p;
            return gap < 0f ? -gap : gap;
        }
        w = Sign(d);
        return d < 0f ? -d : d;
    }

    private static float Sign(float x) => x > 0f ? 1f : x < 0f ? -1f : 0f;
}
