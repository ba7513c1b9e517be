using ILGPU;

namespace IlgpuDiffusion.Kernels;

/// <summary>
/// Deterministic reductions over the token axis of [batch, tokens, channels] tensors:
/// the parameter gradients of bias, adaLN shift/scale and gates (no float atomics).
/// </summary>
internal static class ColumnKernels
{
    /// <summary>
    /// output[b, col] += Σ_t x[b, t, col]·(y[b, t, col] or 1 when hasY = 0): column sums over
    /// tokens (bias, shift, scale and gate gradients). Group (DimX, DimY): DimX columns,
    /// DimY (a power of two) token lanes reduced by a shared-memory tree, so the result is
    /// deterministic. Grid (⌈channels/DimX⌉, batch); shared memory DimX·DimY floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void ColumnDot(ArrayView<float> x, ArrayView<float> y, ArrayView<float> output,
        int tokens, int channels, int hasY)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int col = Grid.IdxX * Group.DimX + Group.IdxX, batch = Grid.IdxY;
        float sum = 0f;
        if (col < channels)
        {
            for (int t = Group.IdxY; t < tokens; t += Group.DimY)
            {
                int index = (batch * tokens + t) * channels + col;
                sum += hasY != 0 ? x[index] * y[index] : x[index];
            }
        }
        float total = GroupReductions.SumOverY(shared, sum);
        if (Group.IdxY == 0 && col < channels) output[batch * channels + col] += total;
    }
}
