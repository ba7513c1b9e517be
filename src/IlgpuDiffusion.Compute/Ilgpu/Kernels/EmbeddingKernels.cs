using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Embedding lookup over [rows, channels] with a [vocab, channels] table, and its
/// deterministic scatter-add backward. Ids were checked to lie in [0, vocab) on the host.
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

    /// <summary>
    /// dTable[id, c] += Σ dOutput[r, c] over the rows r holding id, in ascending row order;
    /// one thread per (distinct id, channel), so no two threads touch the same element and
    /// no atomics are needed. <paramref name="segments"/> is the host-built plan
    /// [rowOrder (rows) | segmentStart (rows + 1) | segmentId (rows)]: rows sorted by
    /// (id, row), where distinct id s occupies rowOrder[segmentStart[s] .. segmentStart[s + 1]).
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Backward(Index1D i, ArrayView<int> segments, ArrayView<float> dOutput, ArrayView<float> dTable,
        int rows, int channels)
    {
        int segment = i / channels, channel = i - segment * channels;
        int end = segments[rows + segment + 1];
        float sum = 0f;
        for (int p = segments[rows + segment]; p < end; p++) sum += dOutput[segments[p] * channels + channel];
        dTable[segments[2 * rows + 1 + segment] * channels + channel] += sum;
    }
}
