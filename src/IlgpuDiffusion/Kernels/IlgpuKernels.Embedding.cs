using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Kernels;

public sealed partial class IlgpuKernels
{
    private Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>? _embeddingForward, _embeddingBackward;

    /// <inheritdoc/>
    public void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels)
    {
        int elements = CheckEmbedding(ids, table, output, rows, vocab, channels, nameof(output));
        if (elements == 0) return;
        _embeddingForward ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>>(EmbeddingKernels.Forward));
        _embeddingForward(elements, ids.View(), table.View(), output.View(), vocab, channels);
    }

    /// <inheritdoc/>
    public void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels)
    {
        int elements = CheckEmbedding(ids, dTable, dOutput, rows, vocab, channels, nameof(dOutput));
        if (elements == 0) return;
        _embeddingBackward ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>>(EmbeddingKernels.Backward));
        _embeddingBackward(elements, ids.View(), dOutput.View(), dTable.View(), vocab, channels);
    }

    /// <summary>Checks the shapes and returns rows·channels.</summary>
    private static int CheckEmbedding(Tensor<int> ids, Tensor<float> table, Tensor<float> rowsTensor,
        int rows, int vocab, int channels, string rowsName)
    {
        HostChecks.Sizes(rows, nameof(rows), vocab, nameof(vocab), channels, nameof(channels));
        HostChecks.Holds(ids, rows, nameof(ids));
        HostChecks.Holds(table, (long)vocab * channels, nameof(table));
        HostChecks.Holds(rowsTensor, (long)rows * channels, rowsName);
        HostChecks.Product(vocab, channels);
        return HostChecks.Product(rows, channels);
    }
}
