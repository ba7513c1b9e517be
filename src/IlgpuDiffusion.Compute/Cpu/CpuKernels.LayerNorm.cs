using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// LayerNorm without bias (weight only, biased variance), forward and backward.
public sealed unsafe partial class CpuKernels
{
    private readonly LayerNormForwardJob _layerNormForward = new();
    private readonly LayerNormBackwardJob _layerNormBackward = new();
    private float[]? _layerNormPartials;

    /// <inheritdoc/>
    public void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd,
        int rows, int channels, float eps)
    {
        OpChecks.LayerNormForward(input, weight, output, mean, rstd, rows, channels, eps);
        var job = _layerNormForward;
        job.Input = input.Pointer();
        job.Weight = weight.Pointer();
        job.Output = output.Pointer();
        job.Mean = mean.Pointer();
        job.Rstd = rstd.Pointer();
        job.Channels = channels;
        job.Eps = eps;
        job.Run(_pool, rows, Math.Max(1, RowGrain / channels));
    }

    /// <inheritdoc/>
    public void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean, Tensor<float> rstd,
        Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels)
    {
        OpChecks.LayerNormBackward(dOutput, input, weight, mean, rstd, dInput, dWeight, rows, channels);
        var job = _layerNormBackward;
        job.DOutput = dOutput.Pointer();
        job.Input = input.Pointer();
        job.Weight = weight.Pointer();
        job.Mean = mean.Pointer();
        job.Rstd = rstd.Pointer();
        job.DInput = dInput.Pointer();
        job.Channels = channels;
        int chunks = ChunkedJob.ChunkCount(rows, Math.Max(1, RowGrain / channels), _pool.Threads);
        job.Partials = Scratch(ref _layerNormPartials, (long)chunks * channels * 3);
        job.Run(_pool, rows, Math.Max(1, RowGrain / channels));
        // dWeight += Σ over chunks (in chunk order) of each chunk's partial sum.
        var dw = new Span<float>(dWeight.Pointer(), channels);
        for (int c = 0; c < job.UsedChunks; c++)
            TensorPrimitives.Add(dw, new ReadOnlySpan<float>(job.Partials + (long)c * channels, channels), dw);
    }

    private sealed class LayerNormForwardJob : ChunkedJob
    {
        public float* Input, Weight, Output, Mean, Rstd;
        public int Channels;
        public float Eps;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            var weight = new ReadOnlySpan<float>(Weight, Channels);
            for (int r = start; r < end; r++)
            {
                var x = new ReadOnlySpan<float>(Input + (long)r * Channels, Channels);
                var y = new Span<float>(Output + (long)r * Channels, Channels);
                float mean = TensorPrimitives.Sum(x) / Channels;
                // y = x − mean (two-pass variance: no cancellation), then y = y·rstd·weight.
                TensorPrimitives.Subtract(x, mean, y);
                float variance = TensorPrimitives.SumOfSquares(y) / Channels;
                float rstd = 1f / MathF.Sqrt(variance + Eps);
                TensorPrimitives.Multiply(y, rstd, y);
                TensorPrimitives.Multiply(y, weight, y);
                Mean[r] = mean;
                Rstd[r] = rstd;
            }
        }
    }

    /// <summary>
    /// Per row: x̂ = (x − mean)·rstd, g = dy·w; dx += rstd·(g − mean(g) − x̂·mean(g·x̂)).
    /// dWeight partial sums Σ dy·x̂ go to one row of <see cref="Partials"/> per chunk.
    /// </summary>
    private sealed class LayerNormBackwardJob : ChunkedJob
    {
        public float* DOutput, Input, Weight, Mean, Rstd, DInput, Partials;
        public int Channels;

        public int UsedChunks => Chunks;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            int n = Channels;
            var weight = new ReadOnlySpan<float>(Weight, n);
            var dWeightPartial = new Span<float>(Partials + (long)chunk * n, n);
            dWeightPartial.Clear();
            // Per-chunk scratch rows for x̂ and g live after all chunks' partials.
            var xHat = new Span<float>(Partials + (long)(Chunks + chunk) * n, n);
            var g = new Span<float>(Partials + (long)(2 * Chunks + chunk) * n, n);
            for (int r = start; r < end; r++)
            {
                var x = new ReadOnlySpan<float>(Input + (long)r * n, n);
                var dy = new ReadOnlySpan<float>(DOutput + (long)r * n, n);
                var dx = new Span<float>(DInput + (long)r * n, n);
                float rstd = Rstd[r];
                TensorPrimitives.Subtract(x, Mean[r], xHat);
                TensorPrimitives.Multiply(xHat, rstd, xHat);
                TensorPrimitives.MultiplyAdd(dy, xHat, dWeightPartial, dWeightPartial);
                TensorPrimitives.Multiply(dy, weight, g);
                float meanG = TensorPrimitives.Sum(g) / n;
                float meanGx = TensorPrimitives.Dot(g, xHat) / n;
                // g ← g − meanG − x̂·meanGx ; dx += rstd·g
                TensorPrimitives.MultiplyAdd(xHat, -meanGx, g, g);
                TensorPrimitives.Subtract(g, meanG, g);
                TensorPrimitives.MultiplyAdd(g, rstd, dx, dx);
            }
        }
    }
}
