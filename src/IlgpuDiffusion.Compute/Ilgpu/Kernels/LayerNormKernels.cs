using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// LayerNorm without bias over [rows, channels], and QK-norm over the heads of q and k in packed qkv
/// [rows, 3, heads, headDim]. Forward and the input gradient run one group per normalized vector (size a power
/// of two) with shared-memory tree reductions; the weight gradient is a <see cref="ColumnKernels"/> reduction.
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
        int row = Grid.IdxX, start = row * channels;
        var moments = Moments.Of(SharedMemory.GetDynamic<float>(), input, start, channels, eps);
        float mu = moments.Mean, r = moments.Rstd;

        for (int c = Group.IdxX; c < channels; c += Group.DimX)
            output[start + c] = (input[start + c] - mu) * r * weight[c];
        if (Group.IdxX == 0)
        {
            mean[row] = mu;
            rstd[row] = r;
        }
    }

    /// <summary>
    /// <see cref="Forward"/> and <see cref="ModulationKernels.ModulateForward"/> in one pass: n = (x − mean)·rstd·weight
    /// (written to normalized when KeepNormalized ≠ 0), output = n·(1 + scale[b, c]) + shift[b, c] for the row's sequence b.
    /// Grid: rows groups; shared memory Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void ForwardModulated(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> shift,
        ArrayView<float> scale, ArrayView<float> normalized, ArrayView<float> output, ArrayView<float> mean, ArrayView<float> rstd,
        LayerNormModulateArguments a)
    {
        int row = Grid.IdxX, start = row * a.Channels, vector = row / a.Tokens * a.Channels;
        var moments = Moments.Of(SharedMemory.GetDynamic<float>(), input, start, a.Channels, a.Eps);
        float mu = moments.Mean, r = moments.Rstd;
        for (int c = Group.IdxX; c < a.Channels; c += Group.DimX)
        {
            float n = (input[start + c] - mu) * r * weight[c];
            if (a.KeepNormalized != 0) normalized[start + c] = n;
            output[start + c] = n * (1f + scale[vector + c]) + shift[vector + c];
        }
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
        float meanG = GradientMeans(shared, dOutput, input, weight, start, channels, mu, r, out float meanGx);
        for (int c = Group.IdxX; c < channels; c += Group.DimX)
        {
            float xHat = (input[start + c] - mu) * r;
            dInput[start + c] += r * (dOutput[start + c] * weight[c] - meanG - xHat * meanGx);
        }
    }

    /// <summary>
    /// mean_c(g), returned, and mean_c(g·x̂) of the row at <paramref name="start"/>, with g = dOutput·weight and
    /// x̂ = (x − <paramref name="mu"/>)·<paramref name="r"/>; every thread of the group gets both.
    /// </summary>
    private static float GradientMeans(ArrayView<float> shared, ArrayView<float> dOutput, ArrayView<float> input,
        ArrayView<float> weight, int start, int channels, float mu, float r, out float meanGx)
    {
        float sumG = 0f, sumGx = 0f;
        for (int c = Group.IdxX; c < channels; c += Group.DimX)
        {
            float g = dOutput[start + c] * weight[c];
            sumG += g;
            sumGx += g * (input[start + c] - mu) * r;
        }
        float meanG = GroupReductions.Sum(shared, sumG) / channels;
        meanGx = GroupReductions.Sum(shared, sumGx) / channels;
        return meanG;
    }

    /// <summary>
    /// <see cref="BackwardInput"/> over <paramref name="rowsPerGroup"/> consecutive rows per group that also sums the
    /// weight gradient's terms dOutput·x̂ of its rows, channel by channel, in shared memory (each thread its own channels,
    /// rows in order, so no two threads meet), and writes them as partials[group, channels] for
    /// <see cref="ColumnKernels.SumChunks"/>: dOutput and x are read once for both gradients. Grid: ⌈rows/rowsPerGroup⌉
    /// groups; shared memory Group.DimX + channels floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void BackwardInputAndWeight(ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dInput, ArrayView<float> partials, int channels, int rows,
        int rowsPerGroup)
    {
        var shared = SharedMemory.GetDynamic<float>();
        var reduction = shared.SubView(0, Group.DimX);
        var terms = shared.SubView(Group.DimX, channels);
        for (int c = Group.IdxX; c < channels; c += Group.DimX) terms[c] = 0f;
        int first = Grid.IdxX * rowsPerGroup, last = first + rowsPerGroup < rows ? first + rowsPerGroup : rows;
        for (int row = first; row < last; row++)
        {
            int start = row * channels;
            float mu = mean[row], r = rstd[row];
            float meanG = GradientMeans(reduction, dOutput, input, weight, start, channels, mu, r, out float meanGx);
            for (int c = Group.IdxX; c < channels; c += Group.DimX)
            {
                float dy = dOutput[start + c], xHat = (input[start + c] - mu) * r;
                dInput[start + c] += r * (dy * weight[c] - meanG - xHat * meanGx);
                terms[c] += dy * xHat;
            }
        }
        for (int c = Group.IdxX; c < channels; c += Group.DimX) partials[Grid.IdxX * channels + c] = terms[c];
    }

    /// <summary>
    /// QK-norm forward: group g = (slot·rows + row)·heads + head normalizes head `head` of q (slot 0) or k (slot 1) of
    /// `row` in place, u ← x̂·weight[slot], and saves x̂ at normalized[g·headDim..] and rstd[g].
    /// Grid: 2·rows·heads groups; shared memory Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void QkForward(ArrayView<float> qkv, ArrayView<float> weight, ArrayView<float> normalized,
        ArrayView<float> rstd, int rows, int heads, int headDim, float eps)
    {
        int g = Grid.IdxX, slot = g / (rows * heads), start = QkHeadStart(g, rows, heads, headDim);
        var moments = Moments.Of(SharedMemory.GetDynamic<float>(), qkv, start, headDim, eps);
        float mu = moments.Mean, r = moments.Rstd;
        for (int c = Group.IdxX; c < headDim; c += Group.DimX)
        {
            float xHat = (qkv[start + c] - mu) * r;
            normalized[g * headDim + c] = xHat;
            qkv[start + c] = xHat * weight[slot * headDim + c];
        }
        if (Group.IdxX == 0) rstd[g] = r;
    }

    /// <summary>
    /// QK-norm input gradient, group g as in <see cref="QkForward"/>: dy ← rstd·(g − mean(g) − x̂·mean(g·x̂)) in place
    /// with g = dy·weight[slot]; writes the weight-gradient terms dy·x̂ to products[g·headDim..] for a column reduction.
    /// Grid: 2·rows·heads groups; shared memory Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void QkBackwardInput(ArrayView<float> dQkv, ArrayView<float> weight, ArrayView<float> normalized,
        ArrayView<float> rstd, ArrayView<float> products, int rows, int heads, int headDim)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int g = Grid.IdxX, w = g / (rows * heads) * headDim, start = QkHeadStart(g, rows, heads, headDim);
        float sumG = 0f, sumGx = 0f;
        for (int c = Group.IdxX; c < headDim; c += Group.DimX)
        {
            float dy = dQkv[start + c], xHat = normalized[g * headDim + c];
            float gc = dy * weight[w + c];
            sumG += gc;
            sumGx += gc * xHat;
            products[g * headDim + c] = dy * xHat;
        }
        float meanG = GroupReductions.Sum(shared, sumG) / headDim;
        float meanGx = GroupReductions.Sum(shared, sumGx) / headDim;
        float r = rstd[g];
        for (int c = Group.IdxX; c < headDim; c += Group.DimX)
        {
            float xHat = normalized[g * headDim + c];
            dQkv[start + c] = r * (dQkv[start + c] * weight[w + c] - meanG - xHat * meanGx);
        }
    }

    /// <summary>The mean and rstd of one normalized vector, for every thread of its group.</summary>
    private readonly struct Moments
    {
        private Moments(float mean, float rstd)
        {
            Mean = mean;
            Rstd = rstd;
        }

        public float Mean { get; }

        public float Rstd { get; }

        /// <summary>
        /// Of x[start .. start + length): the mean, then 1/√(biased variance + eps) two-pass around it; every thread of
        /// the group must call it (it reduces through <paramref name="shared"/>, Group.DimX floats).
        /// </summary>
        public static Moments Of(ArrayView<float> shared, ArrayView<float> x, int start, int length, float eps)
        {
            float sum = 0f;
            for (int c = Group.IdxX; c < length; c += Group.DimX) sum += x[start + c];
            float mean = GroupReductions.Sum(shared, sum) / length;
            float squares = 0f;
            for (int c = Group.IdxX; c < length; c += Group.DimX)
            {
                float d = x[start + c] - mean;
                squares += d * d;
            }
            return new Moments(mean, 1f / MathF.Sqrt(GroupReductions.Sum(shared, squares) / length + eps));
        }
    }

    /// <summary>Offset in packed qkv of the head that QK-norm group g = (slot·rows + row)·heads + head normalizes.</summary>
    private static int QkHeadStart(int g, int rows, int heads, int headDim)
    {
        int head = g % heads, slotRow = g / heads, slot = slotRow / rows, row = slotRow % rows;
        return ((row * 3 + slot) * heads + head) * headDim;
    }
}

/// <summary>One <see cref="LayerNormKernels.ForwardModulated"/> launch: row length, rows per sequence, eps, and whether the
/// normalized rows are written.</summary>
internal readonly record struct LayerNormModulateArguments(int Channels, int Tokens, float Eps, int KeepNormalized);
