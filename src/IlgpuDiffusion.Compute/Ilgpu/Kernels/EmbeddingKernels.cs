using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Embedding lookup over [rows, channels] with a [vocab, channels] table, and its
/// deterministic scatter-add backward in two passes (chunks of rows, then each id's chunks), so that an id holding most
/// rows (the mask token) is not one thread's serial sum. Ids were checked to lie in [0, vocab) on the host.
/// </summary>
internal static class EmbeddingKernels
{
    /// <summary>output[r, c] = table[ids[r], c]; one thread per output element.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Forward(Index1D i, ArrayView<int> ids, ArrayView<float> table, ArrayView<float> output, int channels)
    {
        int row = i / channels;
        output[i] = table[ids[row] * channels + (i - row * channels)];
    }

    /// <summary>Most rows one partial sum of <see cref="BackwardChunks"/> adds: a mask token's thousands of rows become chunks.</summary>
    public const int ChunkRows = 64;

    /// <summary>
    /// First pass of the deterministic scatter-add backward: partials[k, c] = Σ dOutput[r, c] over the rows r of chunk k, in
    /// row order; one thread per (chunk, channel). <paramref name="plan"/> is the host-built
    /// [rowOrder (rows) | chunkStart (chunks + 1) | …]: rows sorted by (id, row), cut into chunks of at most
    /// <see cref="ChunkRows"/> rows of one id each, chunk k being rowOrder[chunkStart[k] .. chunkStart[k + 1]).
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void BackwardChunks(Index1D i, ArrayView<int> plan, ArrayView<float> dOutput, ArrayView<float> partials,
        int rows, int channels)
    {
        int chunk = i / channels, channel = i - chunk * channels;
        int end = plan[rows + chunk + 1];
        float sum = 0f;
        for (int p = plan[rows + chunk]; p < end; p++) sum += dOutput[plan[p] * channels + channel];
        partials[i] = sum;
    }

    /// <summary>
    /// Second pass: dTable[id, c] += Σ partials[k, c] over the chunks k of each distinct id, in order; one thread per
    /// (distinct id, channel), so no two threads touch the same element and no atomics are needed. The plan goes on after
    /// the chunks as [… | segmentChunkStart (distinct + 1) | segmentId (distinct)], starting at
    /// <paramref name="segmentsAt"/>: distinct id s owns chunks segmentChunkStart[s] .. segmentChunkStart[s + 1].
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void BackwardSegments(Index1D i, ArrayView<int> plan, ArrayView<float> partials, ArrayView<float> dTable,
        int segmentsAt, int distinct, int channels)
    {
        int segment = i / channels, channel = i - segment * channels;
        int end = plan[segmentsAt + segment + 1];
        float sum = 0f;
        for (int k = plan[segmentsAt + segment]; k < end; k++) sum += partials[k * channels + channel];
        dTable[plan[segmentsAt + distinct + 1 + segment] * channels + channel] += sum;
    }
}
