using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// How the kernels that give each vector a row of lanes (<see cref="LayerNormKernels"/>: a 2D group of Group.DimX lanes
/// per vector, Group.DimY vectors) sum over a row's lanes. Every thread of the group calls it the same number of times,
/// and every lane of a row gets the same bits.
/// </summary>
internal interface IRowSums
{
    /// <summary>Σ value over the lanes of the calling thread's row.</summary>
    /// <param name="shared">Group.DimX·Group.DimY floats of shared memory (unused by warp sums).</param>
    float Sum(ArrayView<float> shared, float value);
}

/// <summary>
/// Sums by warp shuffles (a butterfly, no barrier and no shared memory): rows are exactly one warp of at most 64 lanes.
/// For CUDA and ILGPU's CPU accelerator; OpenCL devices have warp shuffles only with vendor extensions.
/// </summary>
internal readonly struct WarpRowSums : IRowSums
{
    /// <inheritdoc/>
    public float Sum(ArrayView<float> shared, float value)
    {
        // Written out (ILGPU does not unroll loops; the warp size folds to a constant on CUDA). Lane i adds lane
        // i ^ offset's partial: both add the same two numbers, so every lane ends with the same bits.
        if (Warp.WarpSize > 32) value += Warp.ShuffleXor(value, 32);
        if (Warp.WarpSize > 16) value += Warp.ShuffleXor(value, 16);
        if (Warp.WarpSize > 8) value += Warp.ShuffleXor(value, 8);
        if (Warp.WarpSize > 4) value += Warp.ShuffleXor(value, 4);
        if (Warp.WarpSize > 2) value += Warp.ShuffleXor(value, 2);
        if (Warp.WarpSize > 1) value += Warp.ShuffleXor(value, 1);
        return value;
    }
}

/// <summary>Sums by a shared-memory tree per row (<see cref="GroupReductions.SumOverX"/>): any accelerator.</summary>
internal readonly struct SharedRowSums : IRowSums
{
    /// <inheritdoc/>
    public float Sum(ArrayView<float> shared, float value) => GroupReductions.SumOverX(shared, value);
}
