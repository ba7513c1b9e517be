using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// SUBS log-softmax, the fused SUBS cross-entropy, and row gather/scatter; parallel over rows.
public sealed unsafe partial class CpuKernels
{
    private const int LossBlock = 1024;

    private readonly SubsLogSoftmaxJob _subsLogSoftmax = new();
    private readonly SubsCrossEntropyJob _subsCrossEntropy = new();
    private readonly RowCopyJob _rowCopy = new();

    /// <inheritdoc/>
    public void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int maskIndex)
    {
        CheckRows(rows, classes, maskIndex, (logits, nameof(logits)), (logProbs, nameof(logProbs)));
        _subsLogSoftmax.Logits = logits.Pointer();
        _subsLogSoftmax.LogProbs = logProbs.Pointer();
        _subsLogSoftmax.Classes = classes;
        _subsLogSoftmax.MaskIndex = maskIndex;
        _subsLogSoftmax.Run(_pool, rows, 1);
    }

    /// <inheritdoc/>
    public void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int maskIndex, float gradScale)
    {
        CheckRows(rows, classes, maskIndex, (logits, nameof(logits)));
        Check.Count(dLogits, (long)rows * classes, nameof(dLogits));
        Check.Count(weights, rows, nameof(weights));
        Check.Count(losses, rows, nameof(losses));
        CheckIds(targets, rows, classes, maskIndex, nameof(targets));
        var job = _subsCrossEntropy;
        job.MaskIndex = maskIndex;
        job.Run(_pool, logits, targets, weights, losses, dLogits, rows, classes, gradScale);
    }

    /// <inheritdoc/>
    public void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows)
    {
        CheckRowIndices(source, indices, destination, rows, channels, sourceRows);
        RunRowCopy(source, indices, destination, rows, channels, scatter: false);
    }

    /// <inheritdoc/>
    public void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int destinationRows)
    {
        CheckRowIndices(destination, indices, source, rows, channels, destinationRows);
        CheckDistinct(indices.AsSpan()[..rows], destinationRows);
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

    private int[] _rowStamps = [];
    private int _rowStampGeneration;

    /// <summary>Throws when a row index repeats (scatter-add rows must each have one writer).</summary>
    private void CheckDistinct(ReadOnlySpan<int> indices, int tableRows)
    {
        if (_rowStamps.Length < tableRows) _rowStamps = new int[tableRows];
        int generation = ++_rowStampGeneration;
        foreach (int index in indices)
        {
            if (_rowStamps[index] == generation)
                throw new ArgumentException($"Row {index} appears more than once in 'indices'; scatter-add needs distinct rows.", "indices");
            _rowStamps[index] = generation;
        }
    }

    private static void CheckRows(int rows, int classes, int maskIndex, params ReadOnlySpan<(Tensor<float> Tensor, string Name)> tensors)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, classes);
        if ((uint)maskIndex >= (uint)classes)
            throw new ArgumentOutOfRangeException(nameof(maskIndex), $"MASK index {maskIndex} is outside the {classes} classes.");
        foreach (var (tensor, name) in tensors) Check.Count(tensor, (long)rows * classes, name);
    }

    private static void CheckIds(Tensor<int> ids, int rows, int limit, int forbidden, string name)
    {
        Check.Count(ids, rows, name);
        var span = ids.AsSpan()[..rows];
        for (int r = 0; r < span.Length; r++)
            if ((uint)span[r] >= (uint)limit || span[r] == forbidden)
                throw new ArgumentOutOfRangeException(name, $"'{name}'[{r}] = {span[r]} is not a valid id (must be in [0, {limit}) and not MASK {forbidden}).");
    }

    private static void CheckRowIndices(Tensor<float> table, Tensor<int> indices, Tensor<float> rowsTensor, int rows, int channels, int tableRows)
    {
        Check.Sizes(true, rows, tableRows);
        Check.Sizes(false, channels);
        Check.Count(table, (long)tableRows * channels, "table");
        Check.Count(rowsTensor, (long)rows * channels, "rows");
        CheckIds(indices, rows, tableRows, -1, nameof(indices));
    }

    private sealed class SubsLogSoftmaxJob : ChunkedJob
    {
        public float* Logits, LogProbs;
        public int Classes, MaskIndex;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            Span<float> block = stackalloc float[LossBlock];
            for (int r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(Logits + (long)r * Classes, Classes);
                var output = new Span<float>(LogProbs + (long)r * Classes, Classes);
                float lse = SubsRow.LogSumExp(row, MaskIndex, SubsRow.Max(row, MaskIndex), block);
                float maskLogit = row[MaskIndex];
                TensorPrimitives.Subtract(row, lse, output);
                output[MaskIndex] = maskLogit + SubsRow.MaskPenalty - lse;
            }
        }
    }

    private sealed class SubsCrossEntropyJob : WeightedCrossEntropyJob
    {
        public int MaskIndex;

        protected override float Max(ReadOnlySpan<float> row) => SubsRow.Max(row, MaskIndex);

        protected override float LogSumExp(ReadOnlySpan<float> row, float max, Span<float> block) =>
            SubsRow.LogSumExp(row, MaskIndex, max, block);

        protected override float ExpAndSum(ReadOnlySpan<float> row, float max, Span<float> exps) =>
            SubsRow.ExpAndSum(row, MaskIndex, max, exps);
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
