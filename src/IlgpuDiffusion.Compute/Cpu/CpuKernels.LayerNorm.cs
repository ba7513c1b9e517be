using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// LayerNorm without bias (weight only, biased variance), forward and backward, over rows and (QK-norm) over heads.
public sealed unsafe partial class CpuKernels
{
    private readonly LayerNormForwardJob _layerNormForward = new();
    private readonly LayerNormModulateForwardJob _layerNormModulateForward = new();
    private readonly LayerNormBackwardJob _layerNormBackward = new();
    private readonly QkNormForwardJob _qkNormForward = new();
    private readonly QkNormBackwardJob _qkNormBackward = new();
    private float[]? _layerNormPartials;
    private float[]? _qkNormPartials;

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
    public void LayerNormModulateForward(Tensor<float> input, Tensor<float> weight, Tensor<float> shift, Tensor<float> scale,
        Tensor<float>? normalized, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd, int batch, int tokens, int channels,
        float eps)
    {
        OpChecks.LayerNormModulateForward(input, weight, shift, scale, normalized, output, mean, rstd, batch, tokens, channels, eps);
        var job = _layerNormModulateForward;
        job.Input = input.Pointer();
        job.Weight = weight.Pointer();
        job.Shift = shift.Pointer();
        job.Scale = scale.Pointer();
        job.Normalized = normalized is { } kept ? kept.Pointer() : null;
        job.Output = output.Pointer();
        job.Mean = mean.Pointer();
        job.Rstd = rstd.Pointer();
        job.Tokens = tokens;
        job.Channels = channels;
        job.Eps = eps;
        job.Run(_pool, batch * tokens, Math.Max(1, RowGrain / channels));
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
        int grain = Math.Max(1, RowGrain / channels);
        job.Partials = Scratch(ref _layerNormPartials, (long)ChunkedJob.ReductionChunkCount(rows, grain) * channels * 3);
        job.RunReduction(_pool, rows, grain);
        // dWeight += Σ over chunks (in chunk order) of each chunk's partial sum.
        var dw = new Span<float>(dWeight.Pointer(), channels);
        for (int c = 0; c < job.UsedChunks; c++)
            TensorPrimitives.Add(dw, new ReadOnlySpan<float>(job.Partials + (long)c * channels, channels), dw);
    }

    /// <inheritdoc/>
    public void QkNormForward(Tensor<float> qkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        int rows, int heads, int headDim, float eps)
    {
        OpChecks.QkNormForward(qkv, weight, normalized, rstd, rows, heads, headDim, eps);
        var job = _qkNormForward;
        SetQkNorm(job, qkv, weight, normalized, rstd, rows, heads, headDim);
        job.Eps = eps;
        job.Run(_pool, rows, QkNormGrain(heads, headDim));
    }

    /// <inheritdoc/>
    public void QkNormBackward(Tensor<float> dQkv, Tensor<float> weight, Tensor<float> normalized, Tensor<float> rstd,
        Tensor<float> dWeight, int rows, int heads, int headDim)
    {
        OpChecks.QkNormBackward(dQkv, weight, normalized, rstd, dWeight, rows, heads, headDim);
        var job = _qkNormBackward;
        SetQkNorm(job, dQkv, weight, normalized, rstd, rows, heads, headDim);
        int grain = QkNormGrain(heads, headDim);
        // Per chunk: its dWeight partial [2, headDim], then a scratch head for g = dy·w.
        job.Partials = Scratch(ref _qkNormPartials, (long)ChunkedJob.ReductionChunkCount(rows, grain) * 3 * headDim);
        job.RunReduction(_pool, rows, grain);
        var dw = new Span<float>(dWeight.Pointer(), 2 * headDim);
        for (int c = 0; c < job.UsedChunks; c++)
            TensorPrimitives.Add(dw, new ReadOnlySpan<float>(job.Partials + (long)c * 2 * headDim, 2 * headDim), dw);
    }

    private static int QkNormGrain(int heads, int headDim) => Math.Max(1, RowGrain / (3 * heads * headDim));

    private static void SetQkNorm(QkNormJob job, Tensor<float> qkv, Tensor<float> weight, Tensor<float> normalized,
        Tensor<float> rstd, int rows, int heads, int headDim)
    {
        job.Qkv = qkv.Pointer();
        job.Weight = weight.Pointer();
        job.Normalized = normalized.Pointer();
        job.Rstd = rstd.Pointer();
        job.Rows = rows;
        job.Heads = heads;
        job.HeadDim = headDim;
    }

    /// <summary>The operands of QK-norm; a work item is a row (token) of the packed qkv.</summary>
    private abstract class QkNormJob : ChunkedJob
    {
        public float* Qkv, Weight, Normalized, Rstd;
        public int Rows, Heads, HeadDim;

        /// <summary>Head <paramref name="head"/> of q (slot 0) or k (slot 1) of <paramref name="row"/> in the packed qkv.</summary>
        protected Span<float> Head(int row, int slot, int head) =>
            new(Qkv + (((long)row * 3 + slot) * Heads + head) * HeadDim, HeadDim);

        /// <summary>Index of (slot, row, head) in the [2, rows, heads] statistics; times HeadDim in x̂.</summary>
        protected long Statistic(int slot, int row, int head) => ((long)slot * Rows + row) * Heads + head;
    }

    /// <summary>Per head of q and k: x̂ = (u − mean)·rstd (two-pass variance), u ← x̂·weight[slot].</summary>
    private sealed class QkNormForwardJob : QkNormJob
    {
        public float Eps;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            for (int r = start; r < end; r++)
                for (int slot = 0; slot < 2; slot++)
                {
                    var weight = new ReadOnlySpan<float>(Weight + slot * HeadDim, HeadDim);
                    for (int h = 0; h < Heads; h++)
                    {
                        var u = Head(r, slot, h);
                        long i = Statistic(slot, r, h);
                        var xHat = new Span<float>(Normalized + i * HeadDim, HeadDim);
                        float mean = TensorPrimitives.Sum(u) / HeadDim;
                        TensorPrimitives.Subtract(u, mean, xHat);
                        float rstd = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xHat) / HeadDim + Eps);
                        TensorPrimitives.Multiply(xHat, rstd, xHat);
                        TensorPrimitives.Multiply(xHat, weight, u);
                        Rstd[i] = rstd;
                    }
                }
        }
    }

    /// <summary>
    /// Per head of dq and dk: g = dy·weight[slot], dy ← rstd·(g − mean(g) − x̂·mean(g·x̂)); the chunk's dWeight
    /// partial sums Σ dy·x̂ go to its row of <see cref="Partials"/>.
    /// </summary>
    private sealed class QkNormBackwardJob : QkNormJob
    {
        public float* Partials;

        public int UsedChunks => Chunks;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            int n = HeadDim;
            var dWeightPartial = new Span<float>(Partials + (long)chunk * 2 * n, 2 * n);
            dWeightPartial.Clear();
            var g = new Span<float>(Partials + (long)(2 * Chunks + chunk) * n, n);
            for (int r = start; r < end; r++)
                for (int slot = 0; slot < 2; slot++)
                {
                    var weight = new ReadOnlySpan<float>(Weight + slot * n, n);
                    var dWeight = dWeightPartial.Slice(slot * n, n);
                    for (int h = 0; h < Heads; h++)
                    {
                        var dy = Head(r, slot, h);
                        long i = Statistic(slot, r, h);
                        var xHat = new ReadOnlySpan<float>(Normalized + i * n, n);
                        TensorPrimitives.MultiplyAdd(dy, xHat, dWeight, dWeight);
                        TensorPrimitives.Multiply(dy, weight, g);
                        float meanG = TensorPrimitives.Sum(g) / n;
                        float meanGx = TensorPrimitives.Dot(g, xHat) / n;
                        TensorPrimitives.MultiplyAdd(xHat, -meanGx, g, g);
                        TensorPrimitives.Subtract(g, meanG, g);
                        TensorPrimitives.Multiply(g, Rstd[i], dy);
                    }
                }
        }
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
                Normalize(new ReadOnlySpan<float>(Input + (long)r * Channels, Channels), weight,
                    new Span<float>(Output + (long)r * Channels, Channels), Eps, out Mean[r], out Rstd[r]);
        }

        /// <summary>y = (x − mean)·rstd·weight over one row.</summary>
        public static void Normalize(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps, out float mean,
            out float rstd)
        {
            mean = TensorPrimitives.Sum(x) / x.Length;
            // y = x − mean (two-pass variance: no cancellation), then y = y·rstd·weight.
            TensorPrimitives.Subtract(x, mean, y);
            float variance = TensorPrimitives.SumOfSquares(y) / x.Length;
            rstd = 1f / MathF.Sqrt(variance + eps);
            TensorPrimitives.Multiply(y, rstd, y);
            TensorPrimitives.Multiply(y, weight, y);
        }
    }

    /// <summary>Per row: <see cref="LayerNormForwardJob.Normalize"/>, then <see cref="ModulateForwardJob.Modulate"/>.</summary>
    private sealed class LayerNormModulateForwardJob : ChunkedJob
    {
        public float* Input, Weight, Shift, Scale, Normalized, Output, Mean, Rstd;
        public int Tokens, Channels;
        public float Eps;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            var weight = new ReadOnlySpan<float>(Weight, Channels);
            for (int r = start; r < end; r++)
            {
                long offset = (long)r * Channels, vector = r / Tokens * (long)Channels;
                var output = new Span<float>(Output + offset, Channels);
                var normalized = Normalized != null ? new Span<float>(Normalized + offset, Channels) : output;
                LayerNormForwardJob.Normalize(new ReadOnlySpan<float>(Input + offset, Channels), weight, normalized, Eps, out Mean[r],
                    out Rstd[r]);
                ModulateForwardJob.Modulate(normalized, new ReadOnlySpan<float>(Shift + vector, Channels),
                    new ReadOnlySpan<float>(Scale + vector, Channels), output);
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
