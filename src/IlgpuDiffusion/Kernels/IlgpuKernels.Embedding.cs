using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Kernels;

public sealed partial class IlgpuKernels
{
    private Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>? _embeddingForward, _embeddingBackward;
    private int[] _hostIds = [];

    /// <inheritdoc/>
    /// <remarks>Reads the ids back to the host (one synchronizing copy of rows ints) to reject bad ids before launch.</remarks>
    public void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels)
    {
        int elements = CheckEmbedding(ids, table, output, rows, vocab, channels);
        if (elements == 0) return;
        _embeddingForward ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>>(EmbeddingKernels.Forward));
        _embeddingForward(elements, ids.View(), table.View(), output.View(), channels);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Scatter-add with float atomics: with repeated ids the order of additions, and so the
    /// last bits of dTable, may vary between runs. Ids are checked on the host as in forward.
    /// </remarks>
    public void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels)
    {
        int elements = CheckEmbedding(ids, dTable, dOutput, rows, vocab, channels);
        if (elements == 0) return;
        _embeddingBackward ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>>(EmbeddingKernels.Backward));
        _embeddingBackward(elements, ids.View(), dOutput.View(), dTable.View(), channels);
    }

    /// <summary>Checks shapes and every id (read back into a host array that grows to the largest rows seen); returns rows·channels.</summary>
    private int CheckEmbedding(Tensor<int> ids, Tensor<float> table, Tensor<float> rowsTensor, int rows, int vocab, int channels)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, vocab, channels);
        Check.Count(ids, rows, nameof(ids));
        Check.Count(table, (long)vocab * channels, nameof(table));
        Check.Count(rowsTensor, (long)rows * channels, "output");
        HostChecks.Product(vocab, channels);
        int elements = HostChecks.Product(rows, channels);

        if (_hostIds.Length < rows) _hostIds = new int[rows];
        var hostIds = _hostIds.AsSpan(0, rows);
        ids.Buffer.CopyToHost(ids.Offset, hostIds);
        for (int r = 0; r < rows; r++)
            if ((uint)hostIds[r] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {hostIds[r]} at row {r} is outside the vocabulary [0, {vocab}).");
        return elements;
    }
}
