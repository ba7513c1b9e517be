using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

// Dropout with a Philox mask regenerated from (seed, stream) in backward: nothing stored.
public sealed unsafe partial class CpuKernels
{
    private readonly DropoutJob _dropout = new();

    /// <inheritdoc/>
    public void DropoutForward(Tensor<float> input, Tensor<float> output, int count, float probability, ulong seed, ulong stream)
    {
        Check.Count(input, count, nameof(input));
        Check.Count(output, count, nameof(output));
        RunDropout(input.Pointer(), output.Pointer(), accumulate: false, count, probability, seed, stream);
    }

    /// <inheritdoc/>
    public void DropoutBackward(Tensor<float> dOutput, Tensor<float> dInput, int count, float probability, ulong seed, ulong stream,
        bool accumulate = true)
    {
        Check.Count(dOutput, count, nameof(dOutput));
        Check.Count(dInput, count, nameof(dInput));
        RunDropout(dOutput.Pointer(), dInput.Pointer(), accumulate, count, probability, seed, stream);
    }

    /// <summary>destination (+)= the dropped source; destination may be source (element by element).</summary>
    private void RunDropout(float* source, float* destination, bool accumulate, int count, float probability, ulong seed, ulong stream)
    {
        Check.Probability(probability, nameof(probability));
        var job = _dropout;
        job.Source = source;
        job.Destination = destination;
        job.Accumulate = accumulate;
        job.Probability = probability;
        job.KeepScale = 1f / (1f - probability);
        job.Seed = seed;
        job.Stream = stream;
        job.Count = count;
        // Chunks start on multiples of 4 so each Philox block (4 words) is generated once.
        job.Run(_pool, (count + 3) / 4, StreamingGrain / 16);
    }

    private sealed class DropoutJob : ChunkedJob
    {
        public float* Source, Destination;
        public bool Accumulate;
        public float Probability, KeepScale;
        public ulong Seed, Stream;
        public int Count;

        protected override void ExecuteRange(int chunk, int startBlock, int endBlock)
        {
            for (long block = startBlock; block < endBlock; block++)
            {
                Philox.Block((ulong)block, Seed, Stream, out uint r0, out uint r1, out uint r2, out uint r3);
                long i = block * 4;
                Apply(i, r0);
                Apply(i + 1, r1);
                Apply(i + 2, r2);
                Apply(i + 3, r3);
            }
        }

        private void Apply(long i, uint bits)
        {
            if (i >= Count) return;
            float kept = Philox.ToUniform(bits) >= Probability ? Source[i] * KeepScale : 0f;
            Destination[i] = Accumulate ? Destination[i] + kept : kept;
        }
    }
}
