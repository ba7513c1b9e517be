using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// adaLN modulation h·(1 + scale) + shift and the gated residual x + gate·branch over
/// [batch, tokens, channels] with per-sequence [batch, channels] vectors; one thread per
/// element. The token reductions of their backward passes run in <see cref="ColumnKernels"/>.
/// </summary>
internal static class ModulationKernels
{
    /// <summary>Index of the [batch, channels] vector entry for element i of [batch, tokens, channels].</summary>
    private static int VectorIndex(int i, int tokens, int channels)
    {
        int perSequence = tokens * channels;
        int batch = i / perSequence;
        return batch * channels + (i - batch * perSequence) % channels;
    }

    /// <summary>output = input·(1 + scale[b, c]) + shift[b, c].</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void ModulateForward(Index1D i, ArrayView<float> input, ArrayView<float> shift, ArrayView<float> scale,
        ArrayView<float> output, int tokens, int channels)
    {
        int v = VectorIndex(i, tokens, channels);
        output[i] = input[i] * (1f + scale[v]) + shift[v];
    }

    /// <summary>dInput += dOutput·(1 + scale[b, c]) (= when <paramref name="accumulate"/> is 0).</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void ModulateBackwardInput(Index1D i, ArrayView<float> dOutput, ArrayView<float> scale, ArrayView<float> dInput,
        int tokens, int channels, int accumulate) =>
        GradientWrites.Put(dInput, i, dOutput[i] * (1f + scale[VectorIndex(i, tokens, channels)]), accumulate);

    /// <summary>output = residual + gate[b, c]·branch; output may alias residual.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void GatedResidualForward(Index1D i, ArrayView<float> residual, ArrayView<float> branch, ArrayView<float> gate,
        ArrayView<float> output, int tokens, int channels) =>
        output[i] = residual[i] + gate[VectorIndex(i, tokens, channels)] * branch[i];

    /// <summary>dBranch += gate[b, c]·dOutput (= when <paramref name="accumulate"/> is 0).</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void GatedResidualBackwardBranch(Index1D i, ArrayView<float> dOutput, ArrayView<float> gate, ArrayView<float> dBranch,
        int tokens, int channels, int accumulate) =>
        GradientWrites.Put(dBranch, i, gate[VectorIndex(i, tokens, channels)] * dOutput[i], accumulate);
}
