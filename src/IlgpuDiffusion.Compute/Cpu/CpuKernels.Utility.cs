using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

// Fill and Copy: memory-bound, parallel over large contiguous chunks.
public sealed unsafe partial class CpuKernels
{
    private readonly FillJob _fill = new();
    private readonly CopyJob _copy = new();

    /// <inheritdoc/>
    public void Fill(Tensor<float> x, float value, int count)
    {
        Check.Count(x, count, nameof(x));
        _fill.X = x.Pointer();
        _fill.Value = value;
        _fill.Run(_pool, count, StreamingGrain);
    }

    /// <inheritdoc/>
    public void Copy(Tensor<float> source, Tensor<float> destination, int count)
    {
        Check.Count(source, count, nameof(source));
        Check.Count(destination, count, nameof(destination));
        _copy.Source = source.Pointer();
        _copy.Destination = destination.Pointer();
        _copy.Run(_pool, count, StreamingGrain);
    }

    private sealed class FillJob : ChunkedJob
    {
        public float* X;
        public float Value;

        protected override void ExecuteRange(int chunk, int start, int end) =>
            new Span<float>(X + start, end - start).Fill(Value);
    }

    private sealed class CopyJob : ChunkedJob
    {
        public float* Source, Destination;

        protected override void ExecuteRange(int chunk, int start, int end) =>
            new ReadOnlySpan<float>(Source + start, end - start).CopyTo(new Span<float>(Destination + start, end - start));
    }
}
