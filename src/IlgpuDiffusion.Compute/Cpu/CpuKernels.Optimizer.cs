using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// AdamW, the squared L2 norm (for global gradient clipping) and the EMA of parameters.
public sealed unsafe partial class CpuKernels
{
    private const int OptimizerBlock = 1024;

    private readonly AdamWJob _adamW = new();
    private readonly SumOfSquaresJob _sumOfSquares = new();
    private readonly EmaJob _ema = new();
    private readonly double[] _sumOfSquaresPartials = new double[ChunkedJob.MaxReductionChunks];

    /// <inheritdoc/>
    public void AdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment,
        int count, in AdamWParameters hyper, int step, float gradScale)
    {
        CheckAdamW(parameters, gradients, firstMoment, secondMoment, count, step);
        RunAdamW(parameters, gradients, firstMoment, secondMoment, count, hyper, step, gradScale, null, 0f);
    }

    /// <summary>The AdamW job over checked tensors, with the EMA of the updated parameters when <paramref name="ema"/> is set.</summary>
    private void RunAdamW(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment, Tensor<float> secondMoment,
        int count, in AdamWParameters hyper, int step, float gradScale, Tensor<float>? ema, float emaDecay)
    {
        var job = _adamW;
        job.Ema = ema is { } average ? average.Pointer() : null;
        job.EmaDecay = emaDecay;
        job.Parameters = parameters.Pointer();
        job.Gradients = gradients.Pointer();
        job.M = firstMoment.Pointer();
        job.V = secondMoment.Pointer();
        job.Beta1 = hyper.Beta1;
        job.Beta2 = hyper.Beta2;
        job.Epsilon = hyper.Epsilon;
        job.GradScale = gradScale;
        job.Decay = 1f - hyper.LearningRate * hyper.WeightDecay;
        double correction1 = 1 - Math.Pow(hyper.Beta1, step), correction2 = 1 - Math.Pow(hyper.Beta2, step);
        job.StepSize = (float)(hyper.LearningRate / correction1);
        job.InverseCorrection2 = (float)(1 / correction2);
        job.Run(_pool, count, StreamingGrain / 4);
    }

    /// <inheritdoc/>
    public void ClippedAdamWStep(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment,
        Tensor<float> secondMoment, int count, in AdamWParameters hyper, int step, Tensor<float> sumOfSquares, double maxNorm,
        Tensor<float>? ema = null, float emaDecay = 0f)
    {
        Check.Count(sumOfSquares, 1, nameof(sumOfSquares));
        CheckAdamW(parameters, gradients, firstMoment, secondMoment, count, step);
        Check.Count(ema, count, nameof(ema));
        float factor = GradientClipping.Factor(*sumOfSquares.Pointer(), maxNorm);
        if (!float.IsNaN(factor)) RunAdamW(parameters, gradients, firstMoment, secondMoment, count, hyper, step, factor, ema, emaDecay);
    }

    private static void CheckAdamW(Tensor<float> parameters, Tensor<float> gradients, Tensor<float> firstMoment,
        Tensor<float> secondMoment, int count, int step)
    {
        Check.Count(parameters, count, nameof(parameters));
        Check.Count(gradients, count, nameof(gradients));
        Check.Count(firstMoment, count, nameof(firstMoment));
        Check.Count(secondMoment, count, nameof(secondMoment));
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), $"AdamW steps count from 1; got {step}.");
    }

    /// <inheritdoc/>
    public void SumOfSquares(Tensor<float> x, Tensor<float> result, int count)
    {
        Check.Count(x, count, nameof(x));
        Check.Count(result, 1, nameof(result));
        var job = _sumOfSquares;
        job.X = x.Pointer();
        job.Partials = _sumOfSquaresPartials;
        job.RunReduction(_pool, count, StreamingGrain);
        double total = 0;
        for (int c = 0; c < job.UsedChunks; c++) total += job.Partials[c];
        *result.Pointer() = (float)total;
    }

    /// <inheritdoc/>
    public void EmaUpdate(Tensor<float> parameters, Tensor<float> ema, int count, float decay)
    {
        Check.Count(parameters, count, nameof(parameters));
        Check.Count(ema, count, nameof(ema));
        _ema.Parameters = parameters.Pointer();
        _ema.Ema = ema.Pointer();
        _ema.Decay = decay;
        _ema.Run(_pool, count, StreamingGrain);
    }

    /// <summary>
    /// PyTorch AdamW: p ← p·(1 − lr·wd) − (lr/c1)·m / (√(v/c2) + eps), on blocks with stack scratch; then, when
    /// <see cref="Ema"/> is set, the EMA of the block's new p as <see cref="EmaJob"/> computes it, while p is in cache.
    /// </summary>
    private sealed class AdamWJob : ChunkedJob
    {
        public float* Parameters, Gradients, M, V, Ema;
        public float Beta1, Beta2, Epsilon, GradScale, Decay, StepSize, InverseCorrection2, EmaDecay;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            Span<float> g = stackalloc float[OptimizerBlock];
            Span<float> d = stackalloc float[OptimizerBlock];
            for (int i = start; i < end; i += OptimizerBlock)
            {
                int n = Math.Min(OptimizerBlock, end - i);
                var grad = g[..n];
                var denominator = d[..n];
                var p = new Span<float>(Parameters + i, n);
                var m = new Span<float>(M + i, n);
                var v = new Span<float>(V + i, n);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(Gradients + i, n), GradScale, grad);
                TensorPrimitives.Multiply(m, Beta1, m);
                TensorPrimitives.MultiplyAdd(grad, 1f - Beta1, m, m);
                TensorPrimitives.Multiply(grad, grad, grad);
                TensorPrimitives.Multiply(v, Beta2, v);
                TensorPrimitives.MultiplyAdd(grad, 1f - Beta2, v, v);
                TensorPrimitives.Multiply(v, InverseCorrection2, denominator);
                TensorPrimitives.Sqrt(denominator, denominator);
                TensorPrimitives.Add(denominator, Epsilon, denominator);
                TensorPrimitives.Divide(m, denominator, denominator);
                TensorPrimitives.Multiply(p, Decay, p);
                TensorPrimitives.MultiplyAdd(denominator, -StepSize, p, p);
                if (Ema != null) EmaJob.Update(p, new Span<float>(Ema + i, n), EmaDecay);
            }
        }
    }

    /// <summary>Per-chunk partial sums in double (blocks of <see cref="OptimizerBlock"/> in float), reduced in chunk order.</summary>
    private sealed class SumOfSquaresJob : ChunkedJob
    {
        public float* X;
        public double[] Partials = [];

        public int UsedChunks => Chunks;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            double sum = 0;
            for (int i = start; i < end; i += OptimizerBlock)
                sum += TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(X + i, Math.Min(OptimizerBlock, end - i)));
            Partials[chunk] = sum;
        }
    }

    private sealed class EmaJob : ChunkedJob
    {
        public float* Parameters, Ema;
        public float Decay;

        protected override void ExecuteRange(int chunk, int start, int end) =>
            Update(new ReadOnlySpan<float>(Parameters + start, end - start), new Span<float>(Ema + start, end - start), Decay);

        /// <summary>ema ← decay·ema + (1 − decay)·parameters.</summary>
        public static void Update(ReadOnlySpan<float> parameters, Span<float> ema, float decay)
        {
            TensorPrimitives.Multiply(ema, decay, ema);
            TensorPrimitives.MultiplyAdd(parameters, 1f - decay, ema, ema);
        }
    }
}
