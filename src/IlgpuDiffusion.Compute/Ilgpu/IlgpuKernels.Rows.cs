using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Row gather and scatter-add by an index list. Device code: RowKernels (Kernels/RowKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>? _gatherRows, _scatterAddRows;

    /// <inheritdoc/>
    /// <remarks>Checks the indices on the host before launch (from the buffer's mirror, or read back): no out-of-range rows.</remarks>
    public void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows)
    {
        CheckRowIndices(source, indices, destination, rows, channels, sourceRows, out int elements);
        if (elements == 0) return;
        _gatherRows ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>>(RowKernels.Gather));
        _gatherRows(_stream, elements, source.View(), indices.View(), destination.View(), channels);
    }

    /// <inheritdoc/>
    /// <remarks>Checks the indices on the host (from the buffer's mirror, or read back) and rejects out-of-range or
    /// repeated rows before launch (distinct rows give each destination element one writer: no atomics).</remarks>
    public void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels,
        int destinationRows)
    {
        var hostIndices = CheckRowIndices(destination, indices, source, rows, channels, destinationRows, out int elements);
        CheckDistinct(hostIndices, nameof(indices), "scatter-add");
        if (elements == 0) return;
        _scatterAddRows ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>>(RowKernels.ScatterAdd));
        _scatterAddRows(_stream, elements, source.View(), indices.View(), destination.View(), channels);
    }

    /// <summary>Shapes and indices of a gather or scatter; returns the indices on the host, and rows·channels.</summary>
    private ReadOnlySpan<int> CheckRowIndices(Tensor<float> table, Tensor<int> indices, Tensor<float> rowsTensor, int rows, int channels,
        int tableRows, out int elements)
    {
        Check.Sizes(true, rows, tableRows);
        Check.Sizes(false, channels);
        Check.Count(table, (long)tableRows * channels, "table");
        Check.Count(rowsTensor, (long)rows * channels, "rows");
        HostChecks.Product(tableRows, channels);
        var hostIndices = ReadIds(indices, rows, tableRows, -1, nameof(indices), $"row (must be in [0, {tableRows}))");
        elements = HostChecks.Product(rows, channels);
        return hostIndices;
    }
}
