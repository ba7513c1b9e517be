using ILGPU;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// adaLN modulation h·(1 + scale) + shift and the gated residual x + gate·branch over
/// [batch, tokens, channels] with per-sequence [batch, channels] vectors; one thread per
/// element forward; each backward is one pass that also takes its token reductions, then (with several token chunks)
/// <see cref="ColumnKernels.SumChunkVectors"/>.
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

    /// <summary>
    /// output = residual + gate[b, c]·branch, the branch first dropped in place when <paramref name="dropout"/> is enabled;
    /// output may alias residual.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void GatedResidualForward(Index1D i, ArrayView<float> residual, ArrayView<float> branch, ArrayView<float> gate,
        ArrayView<float> output, int tokens, int channels, BranchDropout dropout)
    {
        float value = branch[i];
        if (dropout.Enabled != 0)
        {
            value = dropout.Apply(value, i);
            branch[i] = value;
        }
        output[i] = residual[i] + gate[VectorIndex(i, tokens, channels)] * value;
    }

    /// <summary>
    /// The backward of adaLN modulation (Sums = 2, Offset = 1) or of the gated residual (Sums = 1, Offset = 0) in one pass
    /// over dOutput and x: dElement[b, t, c] += dOutput·(Offset + vector[b, c]), through the backward of
    /// <paramref name="dropout"/> when enabled (the gated residual's branch); with Sums = 2 the column sums Σ_t dOutput
    /// (dShift) and Σ_t dOutput·x (dScale), with Sums = 1 only Σ_t dOutput·x (dGate). Everything lands as
    /// <see cref="GradientWrites.Put"/> with Accumulate. The sums are taken as <see cref="ColumnKernels.Partials"/> takes
    /// them, in the same order: grid (⌈channels/DimX⌉, batch, chunks), shared memory DimX·DimY floats; with one chunk they
    /// land in <paramref name="first"/> and <paramref name="second"/>, else as partials [chunks, Sums, batch, channels] in
    /// <paramref name="first"/> for <see cref="ColumnKernels.SumChunkVectors"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void BackwardWithColumns(ArrayView<float> dOutput, ArrayView<float> x, ArrayView<float> vector,
        ArrayView<float> dElement, ArrayView<float> first, ArrayView<float> second, ModulationBackwardArguments a, BranchDropout dropout)
    {
        var shared = SharedMemory.GetDynamic<float>();
        var c = a.Columns;
        int col = Grid.IdxX * Group.DimX + Group.IdxX, batch = Grid.IdxY, chunk = Grid.IdxZ;
        int start = chunk * c.ChunkTokens;
        int end = start + c.ChunkTokens < c.Tokens ? start + c.ChunkTokens : c.Tokens;
        int vectorIndex = batch * c.Channels + col;
        float sumDy = 0f, sumDyX = 0f;
        if (col < c.Channels)
        {
            float factor = a.Offset + vector[vectorIndex];
            for (int t = start + Group.IdxY; t < end; t += Group.DimY)
            {
                int index = (batch * c.Tokens + t) * c.Channels + col;
                float dy = dOutput[index];
                if (dropout.Enabled == 0)
                {
                    GradientWrites.Put(dElement, index, dy * factor, c.Accumulate);
                }
                else
                {
                    bool keep = dropout.Keeps(index); // as DropoutKernels.Backward: a dropped element adds nothing
                    if (keep || c.Accumulate == 0)
                        GradientWrites.Put(dElement, index, keep ? dy * factor * dropout.Scale : 0f, c.Accumulate);
                }
                sumDy += dy;
                sumDyX += dy * x[index];
            }
        }
        float totalDyX = GroupReductions.SumOverY(shared, sumDyX);
        float totalDy = a.Sums == 2 ? GroupReductions.SumOverY(shared, sumDy) : 0f; // the same branch for the whole group
        if (Group.IdxY != 0 || col >= c.Channels) return;
        float firstSum = a.Sums == 2 ? totalDy : totalDyX;
        if (c.Chunks == 1)
        {
            GradientWrites.Put(first, vectorIndex, firstSum, c.Accumulate);
            if (a.Sums == 2) GradientWrites.Put(second, vectorIndex, totalDyX, c.Accumulate);
            return;
        }
        int vectorLength = c.Batch * c.Channels;
        first[chunk * a.Sums * vectorLength + vectorIndex] = firstSum;
        if (a.Sums == 2) first[(chunk * 2 + 1) * vectorLength + vectorIndex] = totalDyX;
    }
}

/// <summary>
/// One <see cref="ModulationKernels.BackwardWithColumns"/> launch: the column reduction's shape (its Term unused), the
/// constant added to the vector (1 for modulation, 0 for the gate) and the number of column sums (2 or 1).
/// </summary>
internal readonly record struct ModulationBackwardArguments(ColumnArguments Columns, float Offset, int Sums);

/// <summary>
/// A fused dropout of a gated residual's branch (<see cref="DropoutKernels"/>' mask): element i kept when
/// Philox.Uniform(Seed, Stream, i) ≥ Probability, then scaled by Scale; nothing dropped when Enabled is 0.
/// </summary>
internal readonly record struct BranchDropout(float Probability, float Scale, ulong Seed, ulong Stream, int Enabled)
{
    /// <summary>Whether element <paramref name="i"/> is kept.</summary>
    public bool Keeps(long i) => Philox.Uniform(Seed, Stream, i) >= Probability;

    /// <summary><paramref name="value"/> as the dropout leaves element <paramref name="i"/>: scaled, or 0.</summary>
    public float Apply(float value, long i) => Keeps(i) ? value * Scale : 0f;
}
