using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu.Gemm;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// GEMM and Linear: the packed SIMD engine (Gemm/SimdGemm) plus bias broadcast and bias gradient.
public sealed unsafe partial class CpuKernels
{
    private readonly BiasBroadcastJob _biasBroadcast = new();
    private readonly ColumnSumJob _columnSum = new();

    /// <inheritdoc/>
    public void MatMul(MatMulLayout layout, Tensor<float> a, Tensor<float> b, Tensor<float> c, int m, int n, int k, bool accumulate)
    {
        OpChecks.MatMul(a, b, c, m, n, k);
        SimdGemm.Multiply(layout, a.Pointer(), b.Pointer(), c.Pointer(), m, n, k, accumulate);
    }

    /// <inheritdoc/>
    /// <remarks>0: the products read fp32 operands, never a copy.</remarks>
    public long InputCopyLength(int rows, int channels)
    {
        Check.Sizes(true, rows, channels);
        return 0;
    }

    /// <inheritdoc/>
    public void LinearForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float> output,
        int rows, int inChannels, int outChannels, Tensor<float>? inputCopy = null, bool inputCopyMade = false)
    {
        OpChecks.LinearForward(input, weight, bias, output, rows, inChannels, outChannels);
        if (bias is { } b)
        {
            // output = bias (broadcast over rows), then output += input·weightᵀ.
            _biasBroadcast.Bias = b.Pointer();
            _biasBroadcast.Output = output.Pointer();
            _biasBroadcast.Channels = outChannels;
            _biasBroadcast.Run(_pool, rows, Math.Max(1, StreamingGrain / Math.Max(1, outChannels)));
        }
        SimdGemm.Multiply(MatMulLayout.ABt, input.Pointer(), weight.Pointer(), output.Pointer(), rows, outChannels, inChannels,
            accumulate: bias.HasValue);
    }

    /// <inheritdoc/>
    /// <remarks>The product, then the GELU over it while the rows are fresh in cache.</remarks>
    public void LinearGeluForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float>? preActivation,
        Tensor<float> activation, int rows, int inChannels, int outChannels, Tensor<float>? inputCopy = null,
        Tensor<float>? activationCopy = null)
    {
        Check.Count(activation, (long)rows * outChannels, nameof(activation));
        var product = preActivation ?? activation;
        LinearForward(input, weight, bias, product, rows, inChannels, outChannels);
        GeluForward(product, activation, rows * outChannels);
    }

    /// <inheritdoc/>
    public void LinearBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight,
        Tensor<float>? dInput, Tensor<float>? dWeight, Tensor<float>? dBias,
        int rows, int inChannels, int outChannels, bool accumulateInput = true, Tensor<float>? inputCopy = null)
    {
        OpChecks.LinearBackward(dOutput, input, weight, dInput, dWeight, dBias, rows, inChannels, outChannels);
        // dInput[rows,in] (+)= dOutput[rows,out]·weight[out,in]
        if (dInput is { } dx)
            SimdGemm.Multiply(MatMulLayout.AB, dOutput.Pointer(), weight.Pointer(), dx.Pointer(), rows, inChannels, outChannels,
                accumulateInput);
        // dWeight[out,in] += dOutputᵀ[out,rows]·input[rows,in]
        if (dWeight is { } dw)
            SimdGemm.Multiply(MatMulLayout.AtB, dOutput.Pointer(), input.Pointer(), dw.Pointer(), outChannels, inChannels, rows,
                accumulate: true);
        // dBias[out] += Σ_rows dOutput[rows,out]
        if (dBias is { } db)
        {
            _columnSum.Matrix = dOutput.Pointer();
            _columnSum.Sums = db.Pointer();
            _columnSum.Rows = rows;
            _columnSum.Columns = outChannels;
            _columnSum.Run(_pool, outChannels, ColumnBlock);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The input gradient, then the GELU's backward over it in place; given a copy of the activation (which this backend never
    /// keeps), the activation is computed first.
    /// </remarks>
    public void GeluLinearBackward(Tensor<float> dOutput, Tensor<float> activation, Tensor<float> preActivation, Tensor<float> weight,
        Tensor<float> dPreActivation, Tensor<float>? dWeight, Tensor<float>? dBias, int rows, int inChannels, int outChannels,
        Tensor<float>? activationCopy = null)
    {
        Check.Count(preActivation, (long)rows * inChannels, nameof(preActivation));
        if (activationCopy is not null && dWeight is not null) GeluForward(preActivation, activation, rows * inChannels);
        LinearBackward(dOutput, activation, weight, dPreActivation, dWeight, dBias, rows, inChannels, outChannels,
            accumulateInput: false);
        GeluBackward(dPreActivation, preActivation, dPreActivation, rows * inChannels, accumulate: false);
    }

    private sealed class BiasBroadcastJob : ChunkedJob
    {
        public float* Bias, Output;
        public int Channels;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            var bias = new ReadOnlySpan<float>(Bias, Channels);
            for (int r = start; r < end; r++)
                bias.CopyTo(new Span<float>(Output + (long)r * Channels, Channels));
        }
    }

    /// <summary>sums[c] += Σ_r matrix[r, c] over a block of columns; rows in order, so deterministic.</summary>
    private sealed class ColumnSumJob : ChunkedJob
    {
        public float* Matrix, Sums;
        public int Rows, Columns;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            var sums = new Span<float>(Sums + start, end - start);
            for (int r = 0; r < Rows; r++)
                TensorPrimitives.Add(sums, new ReadOnlySpan<float>(Matrix + (long)r * Columns + start, end - start), sums);
        }
    }
}
