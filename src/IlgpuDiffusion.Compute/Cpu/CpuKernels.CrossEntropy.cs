using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// The plain softmax cross-entropy of a next-token model (no MASK class); parallel over rows.
public sealed unsafe partial class CpuKernels
{
    private readonly CrossEntropyJob _crossEntropy = new();

    /// <inheritdoc/>
    public void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, float gradScale)
    {
        OpChecks.CrossEntropy(logits, targets, weights, losses, dLogits, rows, classes, vocab);
        CheckIds(targets, rows, vocab, -1, nameof(targets));
        var job = _crossEntropy;
        job.Run(_pool, logits, targets, weights, losses, dLogits, rows, classes, vocab, gradScale);
    }

    private sealed class CrossEntropyJob : WeightedCrossEntropyJob
    {
        protected override float Max(ReadOnlySpan<float> row) => TensorPrimitives.Max(row);

        protected override float ExpAndSum(ReadOnlySpan<float> row, float max, Span<float> exps)
        {
            TensorPrimitives.Subtract(row, max, exps);
            TensorPrimitives.Exp(exps, exps);
            return TensorPrimitives.Sum(exps);
        }

        protected override float LogSumExp(ReadOnlySpan<float> row, float max, Span<float> block)
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
