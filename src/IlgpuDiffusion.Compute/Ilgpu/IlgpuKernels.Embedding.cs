using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Token embedding lookup and its deterministic scatter-add gradient.
// Device code: EmbeddingKernels (Kernels/EmbeddingKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>? _embeddingForward;
    private Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>? _embeddingChunks;
    private Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>? _embeddingSegments;

    // The chunk plan of the backward pass and its partial sums, grown to the largest rows seen (steady-state calls allocate
    // nothing).
    private int[] _segments = [];
    private MemoryBuffer1D<int, Stride1D.Dense>? _deviceSegments;
    private MemoryBuffer1D<float, Stride1D.Dense>? _embeddingPartials;

    /// <inheritdoc/>
    /// <remarks>
    /// Checks the ids on the host before launch: ids the host uploaded, or a device op bounded, from its mirror; others read back.
    /// </remarks>
    public void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels)
    {
        int elements = CheckEmbedding(ids, table, output, rows, vocab, channels, needValues: false, out _);
        if (elements == 0) return;
        _embeddingForward ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>>(EmbeddingKernels.Forward));
        _embeddingForward(_stream, elements, ids.View(), table.View(), output.View(), channels);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Deterministic, without atomics: the ids (from the host as in forward, and checked) are sorted on the host into one
    /// segment per distinct id, cut into chunks of at most <see cref="EmbeddingKernels.ChunkRows"/> rows; the plan is
    /// uploaded behind the queued work (an earlier backward may still read the plan's buffer). One thread per (chunk,
    /// channel) adds the chunk's rows in row order, then one per (distinct id, channel) adds the id's chunks in order.
    /// </remarks>
    public void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels)
    {
        int elements = CheckEmbedding(ids, dTable, dOutput, rows, vocab, channels, needValues: true, out var hostIds);
        if (elements == 0) return;
        var (chunks, distinct) = PlanChunks(hostIds, rows);
        _embeddingChunks ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>>(
                EmbeddingKernels.BackwardChunks));
        _embeddingSegments ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>>(
                EmbeddingKernels.BackwardSegments));
        if (_embeddingPartials is null || _embeddingPartials.Length < elements)
        {
            Release(_accelerator, _embeddingPartials);
            _embeddingPartials = _accelerator.Allocate1D<float>(elements); // chunks ≤ rows
        }
        var plan = _deviceSegments!.View.AsContiguous();
        var partials = _embeddingPartials.View.AsContiguous();
        _embeddingChunks(_stream, chunks * channels, plan, dOutput.View(), partials, rows, channels);
        _embeddingSegments(_stream, distinct * channels, plan, partials, dTable.View(), rows + chunks + 1, distinct, channels);
    }

    /// <summary>
    /// Checks shapes and every id; returns rows·channels. The ids' values (<paramref name="hostIds"/>, see
    /// <see cref="HostIds"/>) only where <paramref name="needValues"/>; without, ids the mirror bounds need no read-back.
    /// </summary>
    private int CheckEmbedding(Tensor<int> ids, Tensor<float> table, Tensor<float> rowsTensor, int rows, int vocab, int channels,
        bool needValues, out ReadOnlySpan<int> hostIds)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, vocab, channels);
        Check.Count(ids, rows, nameof(ids));
        Check.Count(table, (long)vocab * channels, nameof(table));
        Check.Count(rowsTensor, (long)rows * channels, "output");
        HostChecks.Product(vocab, channels);
        int elements = HostChecks.Product(rows, channels);

        hostIds = default;
        if (!needValues && KnownValid(ids, rows, vocab, -1)) return elements;
        hostIds = HostIds(ids, rows);
        for (int r = 0; r < rows; r++)
            if ((uint)hostIds[r] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids),
                    $"Token id {hostIds[r]} at row {r} is outside the vocabulary [0, {vocab}).");
        return elements;
    }

    /// <summary>
    /// Sorts the rows of <paramref name="hostIds"/> by (id, row), cuts each id's rows into chunks of at most
    /// <see cref="EmbeddingKernels.ChunkRows"/>, uploads the plan [rowOrder | chunkStart | segmentChunkStart | segmentId]
    /// (see <see cref="EmbeddingKernels.BackwardChunks"/> and <see cref="EmbeddingKernels.BackwardSegments"/>) and returns
    /// the numbers of chunks and of distinct ids.
    /// </summary>
    private (int Chunks, int Distinct) PlanChunks(ReadOnlySpan<int> hostIds, int rows)
    {
        int capacity = HostChecks.Product(4, rows) + 2;
        if (_sortKeys.Length < rows) _sortKeys = new long[rows];
        if (_segments.Length < capacity) _segments = new int[capacity];
        var keys = _sortKeys.AsSpan(0, rows);
        for (int r = 0; r < rows; r++) keys[r] = ((long)hostIds[r] << 32) | (uint)r;
        keys.Sort();

        // Chunk starts follow the row order at rows; the segments' chunk starts and ids are written after them once the
        // number of chunks is known, so they go to the end of the buffer first.
        var plan = _segments.AsSpan(0, capacity);
        var rowOrder = plan[..rows];
        var chunkStarts = plan[rows..];
        var segmentIds = plan[^rows..];
        var segmentChunks = plan.Slice(capacity - 2 * rows - 1, rows + 1);
        int chunks = 0, distinct = 0, previous = -1, inChunk = 0;
        for (int p = 0; p < rows; p++)
        {
            int id = (int)(keys[p] >> 32);
            rowOrder[p] = (int)keys[p];
            if (id != previous)
            {
                segmentChunks[distinct] = chunks;
                segmentIds[distinct++] = id;
                previous = id;
                inChunk = EmbeddingKernels.ChunkRows;
            }
            if (inChunk == EmbeddingKernels.ChunkRows)
            {
                chunkStarts[chunks++] = p;
                inChunk = 0;
            }
            inChunk++;
        }
        chunkStarts[chunks] = rows;
        segmentChunks[distinct] = chunks;

        // Close up: [rowOrder | chunkStart (chunks + 1) | segmentChunkStart (distinct + 1) | segmentId (distinct)].
        int segmentsAt = rows + chunks + 1;
        segmentChunks[..(distinct + 1)].CopyTo(plan.Slice(segmentsAt, distinct + 1));
        segmentIds[..distinct].CopyTo(plan.Slice(segmentsAt + distinct + 1, distinct));
        int length = segmentsAt + 2 * distinct + 1;

        if (_deviceSegments is null || _deviceSegments.Length < capacity)
        {
            Release(_accelerator, _deviceSegments);
            _deviceSegments = _accelerator.Allocate1D<int>(capacity);
        }
        _uploads.Upload(_deviceSegments.View.SubView(0, length).AsContiguous(), (ReadOnlySpan<int>)plan[..length]);
        return (chunks, distinct);
    }
}
