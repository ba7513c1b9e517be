using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

/// <summary>
/// The row loop of a weighted softmax cross-entropy over the logits of each row: loss w·(lse − logit of
/// the target), and with gradients gradScale·w·(softmax − onehot); a zero weight gives a zero loss and gradient. Rows
/// hold <c>classes</c> logits of which the first <c>vocab</c> take part; the rest (a head's padding) get gradient 0.
/// Subclasses say which classes take part (the max, log Σ exp and exp over the row): the SUBS cross-entropy
/// (<see cref="CpuKernels.SubsCrossEntropy"/>) and the plain one (<see cref="CpuKernels.CrossEntropy"/>).
/// </summary>
internal abstract unsafe class WeightedCrossEntropyJob : ChunkedJob
{
    private float* _logits, _weights, _losses, _dLogits;
    private int* _targets;
    private int _classes, _vocab;
    private float _gradScale;

    /// <summary>Runs the loss over <paramref name="rows"/> rows (shapes checked by the caller).</summary>
    public void Run(WorkerPool pool, Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, float gradScale)
    {
        _logits = logits.Pointer();
        _targets = targets.Pointer();
        _weights = weights.Pointer();
        _losses = losses.Pointer();
        _dLogits = dLogits.Pointer();
        _classes = classes;
        _vocab = vocab;
        _gradScale = gradScale;
        Run(pool, rows, 1);
    }

    /// <summary>The largest logit of <paramref name="row"/> taking part.</summary>
    protected abstract float Max(ReadOnlySpan<float> row);

    /// <summary>log Σ exp(row) given its max, using <paramref name="block"/> as scratch.</summary>
    protected abstract float LogSumExp(ReadOnlySpan<float> row, float max, Span<float> block);

    /// <summary>Writes exp(row − max) into <paramref name="exps"/> (zero for classes not taking part); returns their sum.</summary>
    protected abstract float ExpAndSum(ReadOnlySpan<float> row, float max, Span<float> exps);

    protected sealed override void ExecuteRange(int chunk, int start, int end)
    {
        Span<float> block = stackalloc float[CpuKernels.LossBlock];
        for (int r = start; r < end; r++)
        {
            float weight = _weights[r];
            var row = new ReadOnlySpan<float>(_logits + (long)r * _classes, _vocab);
            var fullGradient = _dLogits == null ? default : new Span<float>(_dLogits + (long)r * _classes, _classes);
            if (weight == 0f)
            {
                _losses[r] = 0f;
                fullGradient.Clear();
                continue;
            }
            float max = Max(row);
            float targetLogit = row[_targets[r]];
            if (_dLogits == null)
            {
                _losses[r] = weight * (LogSumExp(row, max, block) - targetLogit);
                continue;
            }
            // gradient = gradScale·w·(softmax − onehot); exp(row − max) is built in place first.
            var gradient = fullGradient[.._vocab];
            float sum = ExpAndSum(row, max, gradient);
            _losses[r] = weight * (max + MathF.Log(sum) - targetLogit);
            float scale = _gradScale * weight;
            TensorPrimitives.Multiply(gradient, scale / sum, gradient);
            gradient[_targets[r]] -= scale;
            fullGradient[_vocab..].Clear();
        }
    }
}
