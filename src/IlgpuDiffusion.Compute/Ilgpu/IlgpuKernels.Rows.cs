using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Row gather and scatter-add by an index list. Device code: RowKernels (Kernels/RowKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>? _gatherRows, _scatterAddRows;

    /// <inheritdoc/>
    /// <remarks>Reads the indices back to the host to reject out-of-range rows before launch.</remarks>
    public void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows)
    {
        int elements = CheckRowIndices(source, indices, destination, rows, channels, sourceRows);
        if (elements == 0) return;
        _gatherRows ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>>(RowKernels.Gather));
        _gatherRows(elements, source.View(), indices.View(), destination.View(), channels);
    }

    /// <inheritdoc/>
    /// <remarks>Reads the indices back to the host and rejects out-of-range or repeated rows before launch
    /// (distinct rows give each destination element one writer: no atomics).</remarks>
    public void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels,
        int destinationRows)
    {
        int elements = CheckRowIndices(destination, indices, source, rows, channels, destinationRows);
        if (_sortKeys.Length < rows) _sortKeys = new long[rows];
        var sorted = _sortKeys.AsSpan(0, rows);
        for (int r = 0; r < rows; r++) sorted[r] = _hostIds[r];
        sorted.Sort();
        for (int r = 1; r < rows; r++)
            if (sorted[r] == sorted[r - 1])
                throw new ArgumentException(
                    $"Row {sorted[r]} appears more than once in '{nameof(indices)}'; scatter-add needs distinct rows.", nameof(indices));
        if (elements == 0) return;
        _scatterAddRows ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>>(RowKernels.ScatterAdd));
        _scatterAddRows(elements, source.View(), indices.View(), destination.View(), channels);
    }

    /// <summary>Shapes and indices (read back into <see cref="_hostIds"/>) of a gather or scatter; returns rows·channels.</summary>
    private int CheckRowIndices(Tensor<float> table, Tensor<int> indices, Tensor<float> rowsTensor, int rows, int channels, int tableRows)
    {
        Check.Sizes(true, rows, tableRows);
        Check.Sizes(false, channels);
        Check.Count(table, (long)tableRows * channels, "table");
        Check.Count(rowsTensor, (long)rows * channels, "rows");
        HostChecks.Product(tableRows, channels);
        ReadIds(indices, rows, tableRows, -1, nameof(indices), $"row (must be in [0, {tableRows}))");
        return HostChecks.Product(rows, channels);
    }
}
