using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// The epilogue of the tensor-core GEMMs: how a warp's accumulators become results (bias, accumulation, the GELU epilogues,
// split-K partials, the batched score epilogues), shared by every kernel of TensorCoreGemmKernels.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Where a launch's results go: the bias it adds, c, and the activation of a GELU epilogue.</summary>
    private readonly struct GemmOutput(ArrayView<float> bias, ArrayView<float> c, ArrayView<float> activation)
    {
        public ArrayView<float> Bias { get; } = bias;

        public ArrayView<float> C { get; } = c;

        public ArrayView<float> Activation { get; } = activation;
    }

    /// <summary>Writes the four fragments of one 16-row slice of the warp tile (columns col, col + 8, col + 16, col + 24).</summary>
    private static void StoreRow<TBatch>(in GemmOutput output, in TensorCoreGemmArguments g, int row, int col, int lane,
        in MmaAccumulator f0, in MmaAccumulator f1, in MmaAccumulator f2, in MmaAccumulator f3)
        where TBatch : struct, IBatching
    {
        Store<TBatch>(output, g, row, col, lane, f0);
        Store<TBatch>(output, g, row, col + 8, lane, f1);
        Store<TBatch>(output, g, row, col + 16, lane, f2);
        Store<TBatch>(output, g, row, col + 24, lane, f3);
    }

    private static void Store<TBatch>(in GemmOutput output, in TensorCoreGemmArguments g, int row, int col, int lane,
        in MmaAccumulator f)
        where TBatch : struct, IBatching
    {
        if (g.Epilogue >= (int)GemmEpilogue.ProductAndGeluCopy)
        {
            // C0, C1 (and C2, C3) are a row's columns 2t and 2t + 1: one word of the copy
            StorePair(output, g, row + Mma.AccumulatorRow(lane, 0), col + Mma.AccumulatorColumn(lane, 0), f.C0, f.C1);
            StorePair(output, g, row + Mma.AccumulatorRow(lane, 2), col + Mma.AccumulatorColumn(lane, 2), f.C2, f.C3);
            return;
        }
        Store<TBatch>(output, g, row + Mma.AccumulatorRow(lane, 0), col + Mma.AccumulatorColumn(lane, 0), f.C0);
        Store<TBatch>(output, g, row + Mma.AccumulatorRow(lane, 1), col + Mma.AccumulatorColumn(lane, 1), f.C1);
        Store<TBatch>(output, g, row + Mma.AccumulatorRow(lane, 2), col + Mma.AccumulatorColumn(lane, 2), f.C2);
        Store<TBatch>(output, g, row + Mma.AccumulatorRow(lane, 3), col + Mma.AccumulatorColumn(lane, 3), f.C3);
    }

    private static void Store<TBatch>(in GemmOutput output, in TensorCoreGemmArguments g, int row, int col, float value)
        where TBatch : struct, IBatching
    {
        if (row >= g.M || col >= g.N) return;
        long index = (long)row * g.CRowStride + col;
        if (default(TBatch).HasItems)
        {
            StoreItem(output, g, row, col, index, value);
            return;
        }
        if (g.Partials != 0)
        {
            output.C[Grid.IdxZ * (long)g.M * g.N + index] = value;
            return;
        }
        if (g.HasBias != 0) value += output.Bias[col];
        if (g.Accumulate != 0) value += output.C[index];
        Write(output.C, output.Activation, index, value, g.Epilogue);
    }

    /// <summary>
    /// The results at columns <paramref name="col"/> and <paramref name="col"/> + 1 of <paramref name="row"/> under an epilogue
    /// that writes GELU's copy (<see cref="GemmEpilogue.ProductAndGeluCopy"/>, whose N, a multiple of 8, leaves no pair half
    /// outside): bias and accumulation added as <see cref="Store{TBatch}(in GemmOutput, in TensorCoreGemmArguments, int, int,
    /// float)"/> adds them, and the two GELUs packed as <see cref="CopyBf16"/> packs them.
    /// </summary>
    private static void StorePair(in GemmOutput output, in TensorCoreGemmArguments g, int row, int col, float low, float high)
    {
        if (row >= g.M || col >= g.N) return;
        long index = (long)row * g.CRowStride + col;
        if (g.HasBias != 0) (low, high) = (low + output.Bias[col], high + output.Bias[col + 1]);
        if (g.Accumulate != 0) (low, high) = (low + output.C[index], high + output.C[index + 1]);
        if (g.Epilogue == (int)GemmEpilogue.ProductAndGeluCopy) (output.C[index], output.C[index + 1]) = (low, high);
        output.Activation[(long)row * (g.N / 2) + col / 2] = Pack(ActivationKernels.Gelu(low), ActivationKernels.Gelu(high));
    }

    /// <summary>A result as the epilogue writes it (see <see cref="GemmEpilogue"/>).</summary>
    private static void Write(ArrayView<float> c, ArrayView<float> activation, long index, float value, int epilogue)
    {
        if (epilogue == (int)GemmEpilogue.GeluGradient)
        {
            c[index] = ActivationKernels.GeluDerivative(activation[index]) * value;
            return;
        }
        if (epilogue != (int)GemmEpilogue.GeluOnly) c[index] = value;
        if (epilogue != (int)GemmEpilogue.Product) activation[index] = ActivationKernels.Gelu(value);
    }

}
