using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// How backward kernels land a gradient: added to what the target holds, or written over it without reading it (the
/// caller's buffer needs no zeroing first).
/// </summary>
internal static class GradientWrites
{
    /// <summary>target[index] += value when <paramref name="accumulate"/> ≠ 0, else target[index] = value.</summary>
    public static void Put(ArrayView<float> target, int index, float value, int accumulate) =>
        target[index] = (accumulate != 0 ? target[index] : 0f) + value;
}
