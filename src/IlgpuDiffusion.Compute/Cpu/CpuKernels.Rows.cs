using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// Row gather and scatter-add by an index list; parallel over rows.
public sealed unsafe partial class CpuKernels
{
    private readonly RowCopyJob _rowCopy = new();
    private int[] _rowStamps = [];
    private int _rowStampGeneration;

    /// <inheritdoc/>
    public void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows)
    {
        CheckRowIndices(source, indices, destination, rows, channels, sourceRows);
        RunRowCopy(source, indices, destination, rows, channels, scatter: false);
    }

    /// <inheritdoc/>
    public void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels,
        int destinationRows)
    {
        CheckRowIndices(destination, indices, source, rows, channels, destinationRows);
        CheckDistinct(indices.AsSpan()[..rows], destinationRows, nameof(indices));
        RunRowCopy(source, indices, destination, rows, channels, scatter: true);
    }

    private void RunRowCopy(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, bool scatter)
    {
        _rowCopy.Source = source.Pointer();
        _rowCopy.Indices = indices.Pointer();
        _rowCopy.Destination = destination.Pointer();
        _rowCopy.Channels = channels;
        _rowCopy.Scatter = scatter;
        _rowCopy.Run(_pool, rows, Math.Max(1, StreamingGrain / channels));
    }

    /// <summary>Throws when a row index repeats (the rows of a scatter must each have one writer).</summary>
    private void CheckDistinct(ReadOnlySpan<int> indices, int tableRows, string name)
    {
        if (_rowStamps.Length < tableRows) _rowStamps = new int[tableRows];
        int generation = ++_rowStampGeneration;
        foreach (int index in indices)
        {
            if (_rowStamps[index] == generation)
                throw new ArgumentException(
                    $"Row {index} appears more than once in '{name}'; a scatter needs distinct rows.", name);
            _rowStamps[index] = generation;
        }
    }

    private static void CheckRowIndices(Tensor<float> table, Tensor<int> indices, Tensor<float> rowsTensor, int rows, int channels,
        int tableRows)
    {
        Check.Sizes(true, rows, tableRows);
        Check.Sizes(false, channels);
        Check.Count(table, (long)tableRows * channels, "table");
        Check.Count(rowsTensor, (long)rows * channels, "rows");
        CheckIds(indices, rows, tableRows, -1, nameof(indices));
    }

    private sealed class RowCopyJob : ChunkedJob
    {
        public float* Source, Destination;
        public int* Indices;
        public int Channels;
        public bool Scatter;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                if (Scatter)
                {
                    var target = new Span<float>(Destination + (long)Indices[r] * Channels, Channels);
                    TensorPrimitives.Add(target, new ReadOnlySpan<float>(Source + (long)r * Channels, Channels), target);
                }
                else
                {
                    new ReadOnlySpan<float>(Source + (long)Indices[r] * Channels, Channels)
                        .CopyTo(new Span<float>(Destination + (long)r * Channels, Channels));
                }
            }
        }
    }
}
