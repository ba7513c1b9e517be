using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

// The plain softmax cross-entropy of a next-token model (no MASK class); parallel over rows.
public sealed unsafe partial class CpuKernels
{
    private readonly CrossEntropyJob _crossEntropy = new();

    /// <inheritdoc/>
    public void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, float gradScale)
    {
        AutoregressiveOpChecks.CrossEntropy(logits, targets, weights, losses, dLogits, rows, classes);
        CheckIds(targets, rows, classes, -1, nameof(targets));
        var job = _crossEntropy;
        job.Logits = logits.Pointer();
        job.Targets = targets.Pointer();
        job.Weights = weights.Pointer();
        job.Losses = losses.Pointer();
        job.DLogits = dLogits.Pointer();
        job.Classes = classes;
        job.GradScale = gradScale;
        job.Run(_pool, rows, 1);
    }

    private sealed class CrossEntropyJob : ChunkedJob
    {
        public float* Logits, Weights, Losses, DLogits;
        public int* Targets;
        public int Classes;
        public float GradScale;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            Span<float> block = stackalloc float[LossBlock];
            for (int r = start; r < end; r++)
            {
                float weight = Weights[r];
                var row = new ReadOnlySpan<float>(Logits + (long)r * Classes, Classes);
                var gradient = DLogits == null ? default : new Span<float>(DLogits + (long)r * Classes, Classes);
                if (weight == 0f)
                {
                    Losses[r] = 0f;
                    gradient.Clear();
                    continue;
                }
                float max = TensorPrimitives.Max(row);
                float targetLogit = row[Targets[r]];
                if (DLogits == null)
                {
                    Losses[r] = weight * (LogSumExp(row, max, block) - targetLogit);
                    continue;
                }
                // gradient = gradScale·w·(softmax − onehot); exp(row − max) is built in place first.
                TensorPrimitives.Subtract(row, max, gradient);
                TensorPrimitives.Exp(gradient, gradient);
                float sum = TensorPrimitives.Sum(gradient);
                Losses[r] = weight * (max + MathF.Log(sum) - targetLogit);
                float scale = GradScale * weight;
                TensorPrimitives.Multiply(gradient, scale / sum, gradient);
                gradient[Targets[r]] -= scale;
            }
        }

        /// <summary>log Σ exp(row) given its max, using <paramref name="block"/> as scratch.</summary>
        private static float LogSumExp(ReadOnlySpan<float> row, float max, Span<float> block)
        {
            float sum = 0;
            for (int first = 0; first < row.Length; first += block.Length)
            {
                var part = block[..Math.Min(block.Length, row.Length - first)];
                TensorPrimitives.Subtract(row.Slice(first, part.Length), max, part);
                TensorPrimitives.Exp(part, part);
                sum += TensorPrimitives.Sum(part);
            }
            return max + MathF.Log(sum);
        }
    }
}
