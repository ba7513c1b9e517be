using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// LayerNorm without bias over [rows, channels]. Forward and the input gradient run one
/// group per row (size a power of two) with shared-memory tree reductions; the weight
/// gradient is a <see cref="ColumnKernels"/> reduction over rows.
/// </summary>
internal static class LayerNormKernels
{
    /// <summary>
    /// output = (x − mean)·rstd·weight, biased variance computed two-pass around the mean.
    /// Grid: rows groups; shared memory Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Forward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> output,
        ArrayView<float> mean, ArrayView<float> rstd, int channels, float eps)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, start = row * channels;
        float sum = 0f;
        for (int c = Group.IdxX; c < channels; c += Group.DimX) sum += input[start + c];
        float mu = GroupReductions.Sum(shared, sum) / channels;

        float squares = 0f;
        for (int c = Group.IdxX; c < channels; c += Group.DimX)
        {
            float d = input[start + c] - mu;
            squares += d * d;
        }
        float r = 1f / MathF.Sqrt(GroupReductions.Sum(shared, squares) / channels + eps);

        for (int c = Group.IdxX; c < channels; c += Group.DimX)
            output[start + c] = (input[start + c] - mu) * r * weight[c];
        if (Group.IdxX == 0)
        {
            mean[row] = mu;
            rstd[row] = r;
        }
    }

    /// <summary>
    /// dInput += rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)) with g = dOutput·weight, x̂ = (x − mean)·rstd.
    /// Grid: rows groups; shared memory Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void BackwardInput(ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dInput, int channels)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, start = row * channels;
        float mu = mean[row], r = rstd[row];
        float sumG = 0f, sumGx = 0f;
        for (int c = Group.IdxX; c < channels; c += Group.DimX)
        {
            float g = dOutput[start + c] * weight[c];
            sumG += g;
            sumGx += g * (input[start + c] - mu) * r;
        }
        float meanG = GroupReductions.Sum(shared, sumG) / channels;
        float meanGx = GroupReductions.Sum(shared, sumGx) / channels;
        for (int c = Group.IdxX; c < channels; c += Group.DimX)
        {
            float xHat = (input[start + c] - mu) * r;
            dInput[start + c] += r * (dOutput[start + c] * weight[c] - meanG - xHat * meanGx);
        }
    }
}
