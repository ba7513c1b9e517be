using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// The SUBS log-softmax and the fused SUBS cross-entropy; parallel over rows.
public sealed unsafe partial class CpuKernels
{
    private readonly SubsLogSoftmaxJob _subsLogSoftmax = new();
    private readonly SubsCrossEntropyJob _subsCrossEntropy = new();

    /// <inheritdoc/>
    public void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int vocab, int maskIndex)
    {
        OpChecks.SubsRows(rows, classes, vocab, maskIndex, (logits, nameof(logits)), (logProbs, nameof(logProbs)));
        _subsLogSoftmax.Logits = logits.Pointer();
        _subsLogSoftmax.LogProbs = logProbs.Pointer();
        _subsLogSoftmax.Classes = classes;
        _subsLogSoftmax.Vocab = vocab;
        _subsLogSoftmax.MaskIndex = maskIndex;
        _subsLogSoftmax.Run(_pool, rows, 1);
    }

    /// <inheritdoc/>
    public void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, int maskIndex, float gradScale)
    {
        OpChecks.SubsRows(rows, classes, vocab, maskIndex, (logits, nameof(logits)), (dLogits, nameof(dLogits)));
        Check.Count(weights, rows, nameof(weights));
        Check.Count(losses, rows, nameof(losses));
        CheckIds(targets, rows, vocab, maskIndex, nameof(targets));
        var job = _subsCrossEntropy;
        job.MaskIndex = maskIndex;
        job.Run(_pool, logits, targets, weights, losses, dLogits, rows, classes, vocab, gradScale);
    }

    private sealed class SubsLogSoftmaxJob : ChunkedJob
    {
        public float* Logits, LogProbs;
        public int Classes, Vocab, MaskIndex;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            Span<float> block = stackalloc float[LossBlock];
            for (int r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(Logits + (long)r * Classes, Vocab);
                var output = new Span<float>(LogProbs + (long)r * Classes, Classes);
                float lse = SubsRow.LogSumExp(row, MaskIndex, SubsRow.Max(row, MaskIndex), block);
                float maskLogit = row[MaskIndex];
                TensorPrimitives.Subtract(row, lse, output[..Vocab]);
                output[MaskIndex] = maskLogit + SubsRow.MaskPenalty - lse;
                output[Vocab..].Fill(float.NegativeInfinity); // the head's padding: probability 0
            }
        }
    }

    private sealed class SubsCrossEntropyJob : WeightedCrossEntropyJob
    {
        public int MaskIndex;

        protected override float Max(ReadOnlySpan<float> row) => SubsRow.Max(row, MaskIndex);

        protected override float LogSumExp(ReadOnlySpan<float> row, float max, Span<float> block) =>
            SubsRow.LogSumExp(row, MaskIndex, max, block);

        protected override float ExpAndSum(ReadOnlySpan<float> row, float max, Span<float> exps) =>
            SubsRow.ExpAndSum(row, MaskIndex, max, exps);
    }
}
