using ILGPU;

namespace IlgpuDiffusion.Kernels;

/// <summary>
/// Embedding lookup over [rows, channels] with a [vocab, channels] table. An id outside
/// [0, vocab) cannot be checked on the host without a device round trip, so the kernels
/// guard it: forward writes NaN for that row (visible in the loss), backward skips it.
/// </summary>
internal static class EmbeddingKernels
{
    /// <summary>output[r, c] = table[ids[r], c]; one thread per output element.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Forward(Index1D i, ArrayView<int> ids, ArrayView<float> table, ArrayView<float> output, int vocab, int channels)
    {
        int row = i / channels, channel = i - row * channels;
        int id = ids[row];
        output[i] = (uint)id < (uint)vocab ? table[id * channels + channel] : float.NaN;
    }

    /// <summary>
    /// dTable[ids[r], c] += dOutput[r, c] with a float atomic add: repeated ids make the
    /// summation order (and so the last bits) vary from run to run.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Backward(Index1D i, ArrayView<int> ids, ArrayView<float> dOutput, ArrayView<float> dTable, int vocab, int channels)
    {
        int row = i / channels, channel = i - row * channels;
        int id = ids[row];
        if ((uint)id < (uint)vocab) Atomic.Add(ref dTable[id * channels + channel], dOutput[i]);
    }
}
