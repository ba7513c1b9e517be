using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// Embedding lookup (row gather) and its scatter-add backward.
public sealed unsafe partial class CpuKernels
{
    private readonly EmbeddingForwardJob _embeddingForward = new();
    private readonly EmbeddingBackwardJob _embeddingBackward = new();

    /// <inheritdoc/>
    public void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels)
    {
        CheckEmbedding(ids, table, output, rows, vocab, channels);
        _embeddingForward.Ids = ids.Pointer();
        _embeddingForward.Table = table.Pointer();
        _embeddingForward.Output = output.Pointer();
        _embeddingForward.Channels = channels;
        _embeddingForward.Run(_pool, rows, Math.Max(1, RowGrain / channels));
    }

    /// <inheritdoc/>
    public void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels)
    {
        CheckEmbedding(ids, dTable, dOutput, rows, vocab, channels);
        _embeddingBackward.Ids = ids.Pointer();
        _embeddingBackward.DOutput = dOutput.Pointer();
        _embeddingBackward.DTable = dTable.Pointer();
        _embeddingBackward.Rows = rows;
        _embeddingBackward.Channels = channels;
        // Each chunk owns a block of columns and walks all rows in order: no races, deterministic.
        _embeddingBackward.Run(_pool, channels, ColumnBlock);
    }

    private static void CheckEmbedding(Tensor<int> ids, Tensor<float> table, Tensor<float> rowsTensor, int rows, int vocab, int channels)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, vocab, channels);
        Check.Count(ids, rows, nameof(ids));
        Check.Count(table, (long)vocab * channels, nameof(table));
        Check.Count(rowsTensor, (long)rows * channels, "output");
        var idSpan = ids.AsSpan()[..rows];
        for (int r = 0; r < idSpan.Length; r++)
            if ((uint)idSpan[r] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids),
                    $"Token id {idSpan[r]} at row {r} is outside the vocabulary [0, {vocab}).");
    }

    private sealed class EmbeddingForwardJob : ChunkedJob
    {
        public int* Ids;
        public float* Table, Output;
        public int Channels;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            for (int r = start; r < end; r++)
                new ReadOnlySpan<float>(Table + (long)Ids[r] * Channels, Channels)
                    .CopyTo(new Span<float>(Output + (long)r * Channels, Channels));
        }
    }

    private sealed class EmbeddingBackwardJob : ChunkedJob
    {
        public int* Ids;
        public float* DOutput, DTable;
        public int Rows, Channels;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            int width = end - start;
            for (int r = 0; r < Rows; r++)
            {
                var target = new Span<float>(DTable + (long)Ids[r] * Channels + start, width);
                TensorPrimitives.Add(target, new ReadOnlySpan<float>(DOutput + (long)r * Channels + start, width), target);
            }
        }
    }
}
