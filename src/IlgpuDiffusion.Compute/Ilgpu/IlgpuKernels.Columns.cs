using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Column reductions over tokens shared by the gradients of MatMul (bias), LayerNorm (weight) and Modulation
// (shift, scale, gate). Device code: ColumnKernels (Kernels/ColumnKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ColumnArguments>? _columnPartials;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, int, int>? _sumChunks;
    private MemoryBuffer1D<float, Stride1D.Dense>? _columnScratch;

    /// <summary>
    /// output[b, c] += Σ_t term(b, t, c) (= when not <paramref name="accumulate"/>) over x, y [batch, tokens, channels]
    /// (and mean, rstd [batch·tokens]
    /// for <see cref="ColumnTerm.XTimesNormalizedY"/>); unused operands may be any view. Shapes already checked.
    /// The partial-sum buffer grows to the largest shape seen, so steady-state calls allocate nothing.
    /// </summary>
    private void ColumnReduce(ColumnTerm term, ArrayView<float> x, ArrayView<float> y, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> output, int batch, int tokens, int channels, bool accumulate = true)
    {
        if (batch == 0 || channels == 0) return;
        HostChecks.Product(batch, tokens, channels);
        int chunkTokens = _plan.ColumnY * _plan.ColumnRowsPerLane;
        int chunks = Math.Max(1, LaunchPlan.Ceil(tokens, chunkTokens));
        var arguments = new ColumnArguments(batch, tokens, channels, (int)term, chunkTokens, chunks, accumulate ? 1 : 0);
        _columnPartials ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ColumnArguments>>(ColumnKernels.Partials));
        if (chunks == 1)
        {
            _columnPartials(_stream, _plan.Columns(batch, channels, 1), x, y, mean, rstd, output, arguments);
            return;
        }

        int vectorLength = batch * channels;
        var partials = Scratch(ref _columnScratch, HostChecks.Product(chunks, vectorLength));
        _sumChunks ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>>(ColumnKernels.SumChunks));
        _columnPartials(_stream, _plan.Columns(batch, channels, chunks), x, y, mean, rstd, partials, arguments);
        _sumChunks(_stream, vectorLength, partials, output, chunks, vectorLength, accumulate ? 1 : 0);
    }
}
