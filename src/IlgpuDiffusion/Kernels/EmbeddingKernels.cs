using ILGPU;

namespace IlgpuDiffusion.Kernels;

/// <summary>
/// Embedding lookup over [rows, channels] with a [vocab, channels] table; ids were checked
/// to lie in [0, vocab) on the host before launch.
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
    /// dTable[ids[r], c] += dOutput[r, c] with a float atomic add: repeated ids make the
    /// summation order (and so the last bits) vary from run to run.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Backward(Index1D i, ArrayView<int> ids, ArrayView<float> dOutput, ArrayView<float> dTable, int channels)
    {
        int row = i / channels;
        Atomic.Add(ref dTable[ids[row] * channels + (i - row * channels)], dOutput[i]);
    }
}
