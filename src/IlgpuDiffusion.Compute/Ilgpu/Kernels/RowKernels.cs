using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Whole-row gather and scatter-add over [rows, channels] by an index list (the output head runs
/// only on the rows that need it). Indices were checked on the host: in range, and distinct for the
/// scatter, so each destination element has one writer and no atomics are needed.
/// </summary>
internal static class RowKernels
{
    /// <summary>destination[r, c] = source[indices[r], c]; one thread per destination element.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Gather(Index1D i, ArrayView<float> source, ArrayView<int> indices, ArrayView<float> destination, int channels)
    {
        int row = i / channels;
        destination[i] = source[indices[row] * channels + (i - row * channels)];
    }

    /// <summary>destination[indices[r], c] += source[r, c]; one thread per source element.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void ScatterAdd(Index1D i, ArrayView<float> source, ArrayView<int> indices, ArrayView<float> destination, int channels)
    {
        int row = i / channels;
        destination[indices[row] * channels + (i - row * channels)] += source[i];
    }
}
