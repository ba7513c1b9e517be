using ILGPU;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Inverted dropout with a Philox mask: element i is kept when
/// Philox.Uniform(seed, stream, i) ≥ p, and then scaled by 1/(1−p). Backward regenerates
/// the same mask from (seed, stream) instead of storing it.
/// </summary>
internal static class DropoutKernels
{
    /// <summary>output[i] = keep(i) ? input[i]·scale : 0. output may alias input.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Forward(Index1D i, ArrayView<float> input, ArrayView<float> output,
        float probability, float scale, ulong seed, ulong stream)
    {
        bool keep = Philox.Uniform(seed, stream, i) >= probability;
        output[i] = keep ? input[i] * scale : 0f;
    }

    /// <summary>dInput[i] += keep(i) ? dOutput[i]·scale : 0 (= when <paramref name="accumulate"/> is 0).</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Backward(Index1D i, ArrayView<float> dOutput, ArrayView<float> dInput,
        float probability, float scale, ulong seed, ulong stream, int accumulate)
    {
        bool keep = Philox.Uniform(seed, stream, i) >= probability;
        if (keep || accumulate == 0) GradientWrites.Put(dInput, i, keep ? dOutput[i] * scale : 0f, accumulate);
    }
}
