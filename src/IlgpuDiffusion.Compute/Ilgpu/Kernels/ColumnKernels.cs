using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>What a column reduction sums over tokens, per element of [batch, tokens, channels].</summary>
internal enum ColumnTerm
{
    /// <summary>x (bias and QK-norm weight gradients).</summary>
    X = 0,

    /// <summary>x·(y − mean[row])·rstd[row] (LayerNorm weight gradient, y the LayerNorm input).</summary>
    XTimesNormalizedY = 1,
}

/// <summary>
/// One column reduction: [batch, tokens, channels] summed over tokens, the tokens split
/// into Chunks chunks of ChunkTokens. Term is a <see cref="ColumnTerm"/>; the sums are added to the output when
/// Accumulate ≠ 0, else written over it.
/// </summary>
internal readonly record struct ColumnArguments(int Batch, int Tokens, int Channels, int Term, int ChunkTokens, int Chunks,
    int Accumulate);

/// <summary>
/// Deterministic reductions over the token axis (parameter gradients of bias, adaLN
/// shift/scale, gates and the LayerNorm weight) without float atomics. Pass 1: group
/// (DimX columns, DimY token lanes, a power of two) per (column block, sequence, token
/// chunk) sums its chunk and tree-reduces the lanes in shared memory; with one chunk it
/// adds straight into the output, otherwise it writes a partial. Pass 2 adds the partials
/// of every chunk in chunk order. The order of additions depends only on the shapes.
/// </summary>
internal static class ColumnKernels
{
    /// <summary>
    /// Pass 1. Grid (⌈channels/DimX⌉, batch, chunks); shared memory DimX·DimY floats.
    /// target: output [batch, channels] (+= or = per Accumulate) when Chunks = 1, else partials [chunks, batch, channels] (=).
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Partials(ArrayView<float> x, ArrayView<float> y, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> target, ColumnArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int col = Grid.IdxX * Group.DimX + Group.IdxX, batch = Grid.IdxY, chunk = Grid.IdxZ;
        int start = chunk * a.ChunkTokens;
        int end = start + a.ChunkTokens < a.Tokens ? start + a.ChunkTokens : a.Tokens;
        float sum = 0f;
        if (col < a.Channels)
        {
            for (int t = start + Group.IdxY; t < end; t += Group.DimY)
            {
                int row = batch * a.Tokens + t;
                int index = row * a.Channels + col;
                sum += a.Term == (int)ColumnTerm.X ? x[index] : x[index] * (y[index] - mean[row]) * rstd[row];
            }
        }
        float total = GroupReductions.SumOverY(shared, sum);
        if (Group.IdxY != 0 || col >= a.Channels) return;
        int vectorIndex = batch * a.Channels + col;
        if (a.Chunks == 1) GradientWrites.Put(target, vectorIndex, total, a.Accumulate);
        else target[chunk * a.Batch * a.Channels + vectorIndex] = total;
    }

    /// <summary>
    /// Pass 2: output[i] += Σ_chunk partials[chunk·vectorLength + i], chunks in order (= when <paramref name="accumulate"/>
    /// is 0).
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void SumChunks(Index1D i, ArrayView<float> partials, ArrayView<float> output, int chunks, int vectorLength,
        int accumulate)
    {
        float sum = 0f;
        for (int chunk = 0; chunk < chunks; chunk++) sum += partials[chunk * vectorLength + i];
        GradientWrites.Put(output, i, sum, accumulate);
    }

    /// <summary>
    /// Pass 2 of <paramref name="vectors"/> (1 or 2) reductions taken together, partials [chunks, vectors, vectorLength]:
    /// element i of vector 0 goes to <paramref name="first"/>, of vector 1 to <paramref name="second"/>, each summed over the
    /// chunks in order as <see cref="SumChunks"/> sums. One thread per element of every vector.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void SumChunkVectors(Index1D i, ArrayView<float> partials, ArrayView<float> first, ArrayView<float> second,
        int chunks, int vectors, int vectorLength, int accumulate)
    {
        int vector = i / vectorLength, element = i - vector * vectorLength;
        float sum = 0f;
        for (int chunk = 0; chunk < chunks; chunk++) sum += partials[(chunk * vectors + vector) * vectorLength + element];
        if (vector == 0) GradientWrites.Put(first, element, sum, accumulate);
        else GradientWrites.Put(second, element, sum, accumulate);
    }
}
