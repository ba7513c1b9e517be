using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// SDTT divergences between student logits (SUBS log-softmax on the fly) and teacher
// log-probs, fused with their gradient with respect to the student logits. Per row, with
// s = log p_s, t = log p_t and g = ∂D/∂s, the logits gradient is g − p_s·Σ_v g_v.
public sealed unsafe partial class CpuKernels
{
    private readonly DivergenceJob _divergence = new();
    private float[]? _divergenceScratch;

    /// <inheritdoc/>
    public void DivergenceForwardBackward(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs,
        Tensor<float> values, Tensor<float>? dStudentLogits, int rows, int classes, int vocab, int maskIndex, float gradScale)
    {
        OpChecks.SubsRows(rows, classes, vocab, maskIndex, (studentLogits, nameof(studentLogits)),
            (teacherLogProbs, nameof(teacherLogProbs)), (dStudentLogits, nameof(dStudentLogits)));
        Check.Count(values, rows, nameof(values));
        var job = _divergence;
        job.Kind = divergence;
        job.Student = studentLogits.Pointer();
        job.Teacher = teacherLogProbs.Pointer();
        job.Values = values.Pointer();
        job.DStudent = dStudentLogits.Pointer();
        job.Classes = classes;
        job.Vocab = vocab;
        job.MaskIndex = maskIndex;
        job.GradScale = gradScale;
        int chunks = ChunkedJob.ChunkCount(rows, 1, _pool.Threads);
        job.Scratch = Scratch(ref _divergenceScratch, 3L * chunks * vocab);
        job.Run(_pool, rows, 1);
    }

    private sealed class DivergenceJob : ChunkedJob
    {
        public Divergence Kind;
        public float* Student, Teacher, Values, DStudent, Scratch;
        public int Classes, Vocab, MaskIndex;
        public float GradScale;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            int v = Vocab, stride = Classes; // the padding after the vocabulary is not read; its gradient is 0
            // Per-chunk scratch: s (student log-probs), p (student probs), w (work row).
            var s = new Span<float>(Scratch + (3L * chunk) * v, v);
            var p = new Span<float>(Scratch + (3L * chunk + 1) * v, v);
            var w = new Span<float>(Scratch + (3L * chunk + 2) * v, v);
            for (int r = start; r < end; r++)
            {
                var logits = new ReadOnlySpan<float>(Student + (long)r * stride, v);
                var t = new ReadOnlySpan<float>(Teacher + (long)r * stride, v);
                float max = SubsRow.Max(logits, MaskIndex);
                float sum = SubsRow.ExpAndSum(logits, MaskIndex, max, p);
                TensorPrimitives.Multiply(p, 1f / sum, p);
                TensorPrimitives.Subtract(logits, max + MathF.Log(sum), s);
                s[MaskIndex] = t[MaskIndex]; // MASK takes no part (p = 0 in both rows; see Divergence)
                // w = ∂D/∂s, then D from the same quantities.
                Values[r] = Kind switch
                {
                    Divergence.ReverseKl => ReverseKl(s, p, t, w),
                    Divergence.ForwardKl => ForwardKl(s, t, w),
                    Divergence.LogProbMse => LogProbMse(s, t, w),
                    Divergence.TotalVariation => TotalVariation(p, t, w),
                    _ => LogProbL1(s, t, w),
                };
                if (DStudent == null) continue;
                // d/dlogits = gradScale·(w − p·Σw)
                float total = TensorPrimitives.Sum(w);
                var gradient = new Span<float>(DStudent + (long)r * stride, stride);
                TensorPrimitives.MultiplyAdd(p, -total, w, gradient[..v]);
                TensorPrimitives.Multiply(gradient[..v], GradScale, gradient[..v]);
                gradient[v..].Clear();
            }
        }

        // D = Σ p(s − t); ∂D/∂s = p·(s − t + 1), the +1 vanishing after projection (Σ_v p = 1).
        private static float ReverseKl(Span<float> s, Span<float> p, ReadOnlySpan<float> t, Span<float> w)
        {
            TensorPrimitives.Subtract(s, t, w);
            TensorPrimitives.Multiply(w, p, w);
            return TensorPrimitives.Sum(w);
        }

        // D = Σ p_t(t − s); ∂D/∂s = −p_t.
        private static float ForwardKl(Span<float> s, ReadOnlySpan<float> t, Span<float> w)
        {
            TensorPrimitives.Exp(t, w);
            float value = TensorPrimitives.Dot(w, t) - TensorPrimitives.Dot(w, s);
            TensorPrimitives.Negate(w, w);
            return value;
        }

        // D = (1/V)Σ(s − t)²; ∂D/∂s = (2/V)(s − t).
        private static float LogProbMse(Span<float> s, ReadOnlySpan<float> t, Span<float> w)
        {
            TensorPrimitives.Subtract(s, t, w);
            float value = TensorPrimitives.SumOfSquares(w) / w.Length;
            TensorPrimitives.Multiply(w, 2f / w.Length, w);
            return value;
        }

        // D = ½Σ|p − p_t|; ∂D/∂s = ½·sign(p − p_t)·p (chain rule through p = exp s).
        private static float TotalVariation(Span<float> p, ReadOnlySpan<float> t, Span<float> w)
        {
            TensorPrimitives.Exp(t, w);
            TensorPrimitives.Subtract(p, w, w);
            float value = 0.5f * TensorPrimitives.SumOfMagnitudes(w);
            for (int i = 0; i < w.Length; i++) w[i] = 0.5f * MathF.Sign(w[i]) * p[i];
            return value;
        }

        // D = Σ|s − t|; ∂D/∂s = sign(s − t).
        private static float LogProbL1(Span<float> s, ReadOnlySpan<float> t, Span<float> w)
        {
            TensorPrimitives.Subtract(s, t, w);
            float value = TensorPrimitives.SumOfMagnitudes(w);
            for (int i = 0; i < w.Length; i++) w[i] = MathF.Sign(w[i]);
            return value;
        }
    }
}
