using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>GELU (tanh approximation) and SiLU, forward and backward, elementwise over [count].</summary>
internal static class ActivationKernels
{
    private const float GeluScale = 0.7978845608028654f; // sqrt(2/π)
    private const float GeluCubic = 0.044715f;

    /// <summary>output = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). output may alias input.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void GeluForward(Index1D i, ArrayView<float> input, ArrayView<float> output) => output[i] = Gelu(input[i]);

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as every GELU of the ILGPU kernels computes it.</summary>
    public static float Gelu(float x) => 0.5f * x * (1f + MathF.Tanh(GeluScale * (x + GeluCubic * x * x * x)));

    /// <summary>dInput += GELU'(x)·dOutput (= when <paramref name="accumulate"/> is 0).</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void GeluBackward(Index1D i, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dInput, int accumulate)
    {
        GradientWrites.Put(dInput, i, GeluDerivative(input[i]) * dOutput[i], accumulate);
    }

    /// <summary>GELU'(x) of the tanh form, as every GELU backward of the ILGPU kernels computes it.</summary>
    public static float GeluDerivative(float x)
    {
        float t = MathF.Tanh(GeluScale * (x + GeluCubic * x * x * x));
        return 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * GeluScale * (1f + 3f * GeluCubic * x * x);
    }

    /// <summary>output = x·σ(x). output may alias input.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void SiluForward(Index1D i, ArrayView<float> input, ArrayView<float> output)
    {
        float x = input[i];
        output[i] = x / (1f + MathF.Exp(-x));
    }

    /// <summary>dInput += σ(x)·(1 + x·(1 − σ(x)))·dOutput (= when <paramref name="accumulate"/> is 0).</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void SiluBackward(Index1D i, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dInput, int accumulate)
    {
        float x = input[i];
        float sigmoid = 1f / (1f + MathF.Exp(-x));
        GradientWrites.Put(dInput, i, sigmoid * (1f + x * (1f - sigmoid)) * dOutput[i], accumulate);
    }
}
