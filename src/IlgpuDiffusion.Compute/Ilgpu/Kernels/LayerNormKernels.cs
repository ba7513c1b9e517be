using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// LayerNorm without bias over [rows, channels], and QK-norm over the heads of q and k in packed qkv
/// [rows, 3, heads, headDim]. Each normalized vector gets a row of Group.DimX lanes (a power of two) and a group holds
/// Group.DimY vectors, so no thread idles on short vectors (a head of 64) and one group's sums serve several vectors.
/// How a row sums over its lanes is a type parameter (<see cref="IRowSums"/>): each kernel has an entry point summing
/// by warp shuffles, where a row is one warp and no sum waits at a barrier, and one summing through shared memory, for
/// any accelerator. The weight gradients are reductions of per-group partials (<see cref="ColumnKernels"/>).
/// Grids: ⌈vectors / Group.DimY⌉ groups of (Group.DimX, Group.DimY) threads, Group.DimX·Group.DimY floats of shared
/// memory (more where a kernel says).
/// </summary>
internal static class LayerNormKernels
{
    /// <summary>output = (x − mean)·rstd·weight, biased variance computed two-pass around the mean.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void ForwardWarpSums(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> output,
        ArrayView<float> mean, ArrayView<float> rstd, int rows, int channels, float eps) =>
        Forward<WarpRowSums>(input, weight, output, mean, rstd, rows, channels, eps);

    /// <summary><see cref="ForwardWarpSums"/> summing through shared memory.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void ForwardSharedSums(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> output,
        ArrayView<float> mean, ArrayView<float> rstd, int rows, int channels, float eps) =>
        Forward<SharedRowSums>(input, weight, output, mean, rstd, rows, channels, eps);

    private static void Forward<TSums>(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> output,
        ArrayView<float> mean, ArrayView<float> rstd, int rows, int channels, float eps)
        where TSums : struct, IRowSums
    {
        int vector = LaneRow(), row = vector < rows ? vector : rows - 1, start = row * channels;
        var moments = Moments.Of<TSums>(SharedMemory.GetDynamic<float>(), input, start, channels, eps);
        bool live = vector < rows;
        if (!live) return; // past the group's last sum
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
    /// LayerNorm and modulation in one pass: n = (x − mean)·rstd·weight (written to normalized when KeepNormalized ≠ 0),
    /// output = n·(1 + scale[b, c]) + shift[b, c] for the row's sequence b.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void ForwardModulatedWarpSums(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> shift,
        ArrayView<float> scale, ArrayView<float> normalized, ArrayView<float> output, ArrayView<float> mean, ArrayView<float> rstd,
        LayerNormModulateArguments a) =>
        ForwardModulated<WarpRowSums>(input, weight, shift, scale, normalized, output, mean, rstd, a);

    /// <summary><see cref="ForwardModulatedWarpSums"/> summing through shared memory.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void ForwardModulatedSharedSums(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> shift,
        ArrayView<float> scale, ArrayView<float> normalized, ArrayView<float> output, ArrayView<float> mean, ArrayView<float> rstd,
        LayerNormModulateArguments a) =>
        ForwardModulated<SharedRowSums>(input, weight, shift, scale, normalized, output, mean, rstd, a);

    private static void ForwardModulated<TSums>(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> shift,
        ArrayView<float> scale, ArrayView<float> normalized, ArrayView<float> output, ArrayView<float> mean, ArrayView<float> rstd,
        LayerNormModulateArguments a)
        where TSums : struct, IRowSums
    {
        int laneRow = LaneRow(), row = laneRow < a.Rows ? laneRow : a.Rows - 1, start = row * a.Channels;
        int vector = row / a.Tokens * a.Channels;
        var moments = Moments.Of<TSums>(SharedMemory.GetDynamic<float>(), input, start, a.Channels, a.Eps);
        bool live = laneRow < a.Rows;
        if (!live) return;
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

    /// <summary>dInput += rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)) with g = dOutput·weight, x̂ = (x − mean)·rstd.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void BackwardInputWarpSums(ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dInput, int rows, int channels) =>
        BackwardInput<WarpRowSums>(dOutput, input, weight, mean, rstd, dInput, rows, channels);

    /// <summary><see cref="BackwardInputWarpSums"/> summing through shared memory.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void BackwardInputSharedSums(ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dInput, int rows, int channels) =>
        BackwardInput<SharedRowSums>(dOutput, input, weight, mean, rstd, dInput, rows, channels);

    private static void BackwardInput<TSums>(ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dInput, int rows, int channels)
        where TSums : struct, IRowSums
    {
        int vector = LaneRow(), row = vector < rows ? vector : rows - 1, start = row * channels;
        bool live = vector < rows;
        float mu = mean[row], r = rstd[row];
        var means = GradientMeans.Of<TSums>(SharedMemory.GetDynamic<float>(), dOutput, input, weight, start, channels, mu, r);
        if (!live) return;
        for (int c = Group.IdxX; c < channels; c += Group.DimX)
        {
            float xHat = (input[start + c] - mu) * r;
            dInput[start + c] += r * (dOutput[start + c] * weight[c] - means.G - xHat * means.GxHat);
        }
    }

    /// <summary>
    /// <see cref="BackwardInputWarpSums"/> for the group's Group.DimY·<paramref name="rowsPerLanes"/> consecutive rows (row
    /// i·Group.DimY + y of them to lane row y) that also sums the weight gradient's terms dOutput·x̂, channel by channel:
    /// each lane row its rows' in order into its own shared floats, then those of the group's lane rows in order, written
    /// as partials[group, channels] for <see cref="ColumnKernels.SumChunks"/>. dOutput and x are read once for both
    /// gradients. Shared memory: Group.DimX·Group.DimY + Group.DimY·channels floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void BackwardInputAndWeightWarpSums(ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dInput, ArrayView<float> partials, int channels, int rows,
        int rowsPerLanes) =>
        BackwardInputAndWeight<WarpRowSums>(dOutput, input, weight, mean, rstd, dInput, partials, channels, rows, rowsPerLanes);

    /// <summary><see cref="BackwardInputAndWeightWarpSums"/> summing through shared memory.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void BackwardInputAndWeightSharedSums(ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dInput, ArrayView<float> partials, int channels, int rows,
        int rowsPerLanes) =>
        BackwardInputAndWeight<SharedRowSums>(dOutput, input, weight, mean, rstd, dInput, partials, channels, rows, rowsPerLanes);

    private static void BackwardInputAndWeight<TSums>(ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dInput, ArrayView<float> partials, int channels, int rows,
        int rowsPerLanes)
        where TSums : struct, IRowSums
    {
        var shared = SharedMemory.GetDynamic<float>();
        int lanes = Group.DimX, height = Group.DimY, sums = lanes * height;
        var reduction = shared.SubView(0, sums);
        var terms = shared.SubView(sums + Group.IdxY * channels, channels); // this lane row's weight terms
        for (int c = Group.IdxX; c < channels; c += lanes) terms[c] = 0f;
        int first = Grid.IdxX * height * rowsPerLanes;
        for (int i = 0; i < rowsPerLanes; i++)
        {
            int row = first + i * height + Group.IdxY;
            bool live = row < rows;
            int at = live ? row : rows - 1, start = at * channels;
            float mu = mean[at], r = rstd[at];
            var means = GradientMeans.Of<TSums>(reduction, dOutput, input, weight, start, channels, mu, r);
            if (!live) continue; // every thread still takes every sum
            for (int c = Group.IdxX; c < channels; c += lanes)
            {
                float dy = dOutput[start + c], xHat = (input[start + c] - mu) * r;
                dInput[start + c] += r * (dy * weight[c] - means.G - xHat * means.GxHat);
                terms[c] += dy * xHat;
            }
        }
        Group.Barrier();
        var allTerms = shared.SubView(sums, height * channels);
        for (int c = Group.IdxY * lanes + Group.IdxX; c < channels; c += sums)
        {
            float sum = 0f;
            for (int y = 0; y < height; y++) sum += allTerms[y * channels + c];
            partials[Grid.IdxX * channels + c] = sum;
        }
    }

    /// <summary>
    /// QK-norm forward: vector g = (slot·rows + row)·heads + head normalizes head `head` of q (slot 0) or k (slot 1) of
    /// `row` in place, u ← x̂·weight[slot], and saves x̂ at normalized[g·headDim..] and rstd[g].
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void QkForwardWarpSums(ArrayView<float> qkv, ArrayView<float> weight, ArrayView<float> normalized,
        ArrayView<float> rstd, int rows, int heads, int headDim, float eps) =>
        QkForward<WarpRowSums>(qkv, weight, normalized, rstd, rows, heads, headDim, eps);

    /// <summary><see cref="QkForwardWarpSums"/> summing through shared memory.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void QkForwardSharedSums(ArrayView<float> qkv, ArrayView<float> weight, ArrayView<float> normalized,
        ArrayView<float> rstd, int rows, int heads, int headDim, float eps) =>
        QkForward<SharedRowSums>(qkv, weight, normalized, rstd, rows, heads, headDim, eps);

    private static void QkForward<TSums>(ArrayView<float> qkv, ArrayView<float> weight, ArrayView<float> normalized,
        ArrayView<float> rstd, int rows, int heads, int headDim, float eps)
        where TSums : struct, IRowSums
    {
        int vector = LaneRow(), vectors = 2 * rows * heads, g = vector < vectors ? vector : vectors - 1;
        int slot = g / (rows * heads), start = QkHeadStart(g, rows, heads, headDim);
        bool live = vector < vectors;
        var moments = Moments.Of<TSums>(SharedMemory.GetDynamic<float>(), qkv, start, headDim, eps);
        if (!live) return;
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
    /// QK-norm input gradient, vector g as in <see cref="QkForwardWarpSums"/>: dy ← rstd·(g − mean(g) − x̂·mean(g·x̂)) in
    /// place with g = dy·weight[slot]; writes the weight-gradient terms dy·x̂ to products[g·headDim..] for a column
    /// reduction.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void QkBackwardInputWarpSums(ArrayView<float> dQkv, ArrayView<float> weight, ArrayView<float> normalized,
        ArrayView<float> rstd, ArrayView<float> products, int rows, int heads, int headDim) =>
        QkBackwardInput<WarpRowSums>(dQkv, weight, normalized, rstd, products, rows, heads, headDim);

    /// <summary><see cref="QkBackwardInputWarpSums"/> summing through shared memory.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void QkBackwardInputSharedSums(ArrayView<float> dQkv, ArrayView<float> weight, ArrayView<float> normalized,
        ArrayView<float> rstd, ArrayView<float> products, int rows, int heads, int headDim) =>
        QkBackwardInput<SharedRowSums>(dQkv, weight, normalized, rstd, products, rows, heads, headDim);

    private static void QkBackwardInput<TSums>(ArrayView<float> dQkv, ArrayView<float> weight, ArrayView<float> normalized,
        ArrayView<float> rstd, ArrayView<float> products, int rows, int heads, int headDim)
        where TSums : struct, IRowSums
    {
        var shared = SharedMemory.GetDynamic<float>();
        int vector = LaneRow(), vectors = 2 * rows * heads, g = vector < vectors ? vector : vectors - 1;
        int w = g / (rows * heads) * headDim, start = QkHeadStart(g, rows, heads, headDim);
        bool live = vector < vectors;
        float sumG = 0f, sumGx = 0f;
        for (int c = Group.IdxX; c < headDim; c += Group.DimX)
        {
            float dy = dQkv[start + c], xHat = normalized[g * headDim + c];
            float gc = dy * weight[w + c];
            sumG += gc;
            sumGx += gc * xHat;
            if (live) products[g * headDim + c] = dy * xHat;
        }
        float meanG = default(TSums).Sum(shared, sumG) / headDim;
        float meanGx = default(TSums).Sum(shared, sumGx) / headDim;
        if (!live) return;
        float r = rstd[g];
        for (int c = Group.IdxX; c < headDim; c += Group.DimX)
        {
            float xHat = normalized[g * headDim + c];
            dQkv[start + c] = r * (dQkv[start + c] * weight[w + c] - meanG - xHat * meanGx);
        }
    }

    /// <summary>
    /// The vector of the calling thread's lane row. Lane rows past the last vector (in the last group) work on the last
    /// one, write nothing, and take the group's sums with the others.
    /// </summary>
    private static int LaneRow() => Grid.IdxX * Group.DimY + Group.IdxY;

    /// <summary>The mean and rstd of one normalized vector, for every lane of its row.</summary>
    private readonly struct Moments
    {
        private Moments(float mean, float rstd)
        {
            Mean = mean;
            Rstd = rstd;
        }

        public float Mean { get; }

        public float Rstd { get; }

        /// <summary>Of x[start .. start + length): the mean, then 1/√(biased variance + eps) two-pass around it.</summary>
        public static Moments Of<TSums>(ArrayView<float> shared, ArrayView<float> x, int start, int length, float eps)
            where TSums : struct, IRowSums
        {
            float sum = 0f;
            for (int c = Group.IdxX; c < length; c += Group.DimX) sum += x[start + c];
            float mean = default(TSums).Sum(shared, sum) / length;
            float squares = 0f;
            for (int c = Group.IdxX; c < length; c += Group.DimX)
            {
                float d = x[start + c] - mean;
                squares += d * d;
            }
            return new Moments(mean, 1f / MathF.Sqrt(default(TSums).Sum(shared, squares) / length + eps));
        }
    }

    /// <summary>mean_c(g) and mean_c(g·x̂) of one row, g = dOutput·weight and x̂ = (x − mean)·rstd, for every lane of its row.</summary>
    private readonly struct GradientMeans
    {
        private GradientMeans(float g, float gxHat)
        {
            G = g;
            GxHat = gxHat;
        }

        public float G { get; }

        public float GxHat { get; }

        public static GradientMeans Of<TSums>(ArrayView<float> shared, ArrayView<float> dOutput, ArrayView<float> input,
            ArrayView<float> weight, int start, int channels, float mu, float r)
            where TSums : struct, IRowSums
        {
            float sumG = 0f, sumGx = 0f;
            for (int c = Group.IdxX; c < channels; c += Group.DimX)
            {
                float g = dOutput[start + c] * weight[c];
                sumG += g;
                sumGx += g * (input[start + c] - mu) * r;
            }
            float meanG = default(TSums).Sum(shared, sumG) / channels;
            return new GradientMeans(meanG, default(TSums).Sum(shared, sumGx) / channels);
        }
    }

    /// <summary>Offset in packed qkv of the head that QK-norm vector g = (slot·rows + row)·heads + head normalizes.</summary>
    private static int QkHeadStart(int g, int rows, int heads, int headDim)
    {
        int head = g % heads, slotRow = g / heads, slot = slotRow / rows, row = slotRow % rows;
        return ((row * 3 + slot) * heads + head) * headDim;
    }
}

/// <summary>
/// One LayerNorm-and-modulate launch: rows, row length, rows per sequence, eps, and whether the normalized rows are written.
/// </summary>
internal readonly record struct LayerNormModulateArguments(int Rows, int Channels, int Tokens, float Eps, int KeepNormalized);
