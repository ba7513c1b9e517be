using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

public sealed partial class IlgpuKernels
{
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, int>? _subsLogSoftmax;
    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, int>? _subsCrossEntropy;
    private Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>? _gatherRows, _scatterAddRows;

    /// <inheritdoc/>
    public void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int maskIndex)
    {
        CheckClassRows(rows, classes, maskIndex, logits, nameof(logits));
        Check.Count(logProbs, (long)rows * classes, nameof(logProbs));
        if (rows == 0) return;
        _subsLogSoftmax ??= _accelerator.LoadStreamKernel(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, int, int>>(LossKernels.SubsLogSoftmax));
        _subsLogSoftmax(_plan.Rows(rows), logits.View(), logProbs.View(), classes, maskIndex);
    }

    /// <inheritdoc/>
    /// <remarks>Reads the targets back to the host (one synchronizing copy of rows ints) to reject bad ids before launch.</remarks>
    public void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int maskIndex, float gradScale)
    {
        CheckClassRows(rows, classes, maskIndex, logits, nameof(logits));
        Check.Count(dLogits, (long)rows * classes, nameof(dLogits));
        Check.Count(weights, rows, nameof(weights));
        Check.Count(losses, rows, nameof(losses));
        ReadIds(targets, rows, classes, maskIndex, nameof(targets), $"target (must be in [0, {classes}) and not MASK {maskIndex})");
        if (rows == 0) return;
        _subsCrossEntropy ??= _accelerator.LoadStreamKernel(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, int>>(LossKernels.SubsCrossEntropy));
        var logitsView = logits.View();
        _subsCrossEntropy(_plan.Rows(rows), logitsView, targets.View(), weights.View(), losses.View(),
            dLogits?.View() ?? logitsView, classes, maskIndex, gradScale, dLogits is null ? 0 : 1);
    }

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
    public void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int destinationRows)
    {
        int elements = CheckRowIndices(destination, indices, source, rows, channels, destinationRows);
        if (_sortKeys.Length < rows) _sortKeys = new long[rows];
        var sorted = _sortKeys.AsSpan(0, rows);
        for (int r = 0; r < rows; r++) sorted[r] = _hostIds[r];
        sorted.Sort();
        for (int r = 1; r < rows; r++)
            if (sorted[r] == sorted[r - 1])
                throw new ArgumentException($"Row {sorted[r]} appears more than once in '{nameof(indices)}'; scatter-add needs distinct rows.", nameof(indices));
        if (elements == 0) return;
        _scatterAddRows ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>>(RowKernels.ScatterAdd));
        _scatterAddRows(elements, source.View(), indices.View(), destination.View(), channels);
    }

    /// <summary>Shapes of a [rows, classes] op with a MASK class.</summary>
    private static void CheckClassRows(int rows, int classes, int maskIndex, Tensor<float> tensor, string name)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, classes);
        if ((uint)maskIndex >= (uint)classes)
            throw new ArgumentOutOfRangeException(nameof(maskIndex), $"MASK index {maskIndex} is outside the {classes} classes.");
        Check.Count(tensor, (long)rows * classes, name);
        HostChecks.Product(rows, classes);
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
