using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>Fill and copy.</summary>
internal static class UtilityKernels
{
    /// <summary>x[i] = value.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Fill(Index1D i, ArrayView<float> x, float value) => x[i] = value;

    /// <summary>destination[i] = source[i].</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Copy(Index1D i, ArrayView<float> source, ArrayView<float> destination) => destination[i] = source[i];
}
