using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Token embedding lookup and its deterministic scatter-add gradient.
// Device code: EmbeddingKernels (Kernels/EmbeddingKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>? _embeddingForward;
    private Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>? _embeddingBackward;

    // The segment plan of the backward pass, grown to the largest rows seen (steady-state calls allocate nothing).
    private int[] _segments = [];
    private MemoryBuffer1D<int, Stride1D.Dense>? _deviceSegments;

    /// <inheritdoc/>
    /// <remarks>Checks the ids on the host before launch: ids the host uploaded from its mirror, others read back.</remarks>
    public void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels)
    {
        int elements = CheckEmbedding(ids, table, output, rows, vocab, channels, out _);
        if (elements == 0) return;
        _embeddingForward ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>>(EmbeddingKernels.Forward));
        _embeddingForward(elements, ids.View(), table.View(), output.View(), channels);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Deterministic, without atomics: the ids (from the host as in forward, and checked) are sorted on the host into one
    /// segment per distinct id, the plan is uploaded behind the queued work (an earlier backward may still read the
    /// plan's buffer), and one thread per (distinct id, channel) adds that id's rows in row order.
    /// </remarks>
    public void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels)
    {
        int elements = CheckEmbedding(ids, dTable, dOutput, rows, vocab, channels, out var hostIds);
        if (elements == 0) return;
        int distinct = PlanSegments(hostIds, rows);
        _embeddingBackward ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>>(
                EmbeddingKernels.Backward));
        _embeddingBackward(distinct * channels, _deviceSegments!.View.AsContiguous(), dOutput.View(), dTable.View(), rows, channels);
    }

    /// <summary>Checks shapes and every id (<paramref name="hostIds"/>, see <see cref="HostIds"/>); returns rows·channels.</summary>
    private int CheckEmbedding(Tensor<int> ids, Tensor<float> table, Tensor<float> rowsTensor, int rows, int vocab, int channels,
        out ReadOnlySpan<int> hostIds)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, vocab, channels);
        Check.Count(ids, rows, nameof(ids));
        Check.Count(table, (long)vocab * channels, nameof(table));
        Check.Count(rowsTensor, (long)rows * channels, "output");
        HostChecks.Product(vocab, channels);
        int elements = HostChecks.Product(rows, channels);

        hostIds = HostIds(ids, rows);
        for (int r = 0; r < rows; r++)
            if ((uint)hostIds[r] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids),
                    $"Token id {hostIds[r]} at row {r} is outside the vocabulary [0, {vocab}).");
        return elements;
    }

    /// <summary>
    /// Sorts the rows of <paramref name="hostIds"/> by (id, row), uploads the segment plan
    /// [rowOrder | segmentStart | segmentId] (see <see cref="EmbeddingKernels.Backward"/>)
    /// and returns the number of distinct ids.
    /// </summary>
    private int PlanSegments(ReadOnlySpan<int> hostIds, int rows)
    {
        int length = HostChecks.Product(3, rows) + 1;
        if (_sortKeys.Length < rows) _sortKeys = new long[rows];
        if (_segments.Length < length) _segments = new int[length];
        var keys = _sortKeys.AsSpan(0, rows);
        for (int r = 0; r < rows; r++) keys[r] = ((long)hostIds[r] << 32) | (uint)r;
        keys.Sort();

        var plan = _segments.AsSpan(0, length);
        var rowOrder = plan[..rows];
        var starts = plan.Slice(rows, rows + 1);
        var segmentIds = plan[(2 * rows + 1)..];
        int distinct = 0;
        for (int p = 0; p < rows; p++)
        {
            int id = (int)(keys[p] >> 32);
            rowOrder[p] = (int)keys[p];
            if (p == 0 || id != segmentIds[distinct - 1])
            {
                starts[distinct] = p;
                segmentIds[distinct++] = id;
            }
        }
        starts[distinct] = rows;

        if (_deviceSegments is null || _deviceSegments.Length < length)
        {
            Release(_accelerator, _deviceSegments);
            _deviceSegments = _accelerator.Allocate1D<int>(length);
        }
        _uploads.Upload(_deviceSegments.View.SubView(0, length).AsContiguous(), (ReadOnlySpan<int>)plan);
        return distinct;
    }
}
