using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Deterministic shared-memory tree reductions used inside explicitly grouped kernels
/// (ILGPU's own group reductions finish with atomics and are not bitwise reproducible).
/// Every thread of the group must call them (they contain barriers); the summation order
/// depends only on the group shape, so results repeat exactly run to run.
/// </summary>
internal static class GroupReductions
{
    /// <summary>Σ value over a 1D group whose size is a power of two; every thread gets the total.</summary>
    /// <param name="shared">At least Group.DimX floats of shared memory.</param>
    public static float Sum(ArrayView<float> shared, float value)
    {
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride >>= 1)
        {
            if (t < stride) shared[t] += shared[t + stride];
            Group.Barrier();
        }
        float total = shared[0];
        Group.Barrier();
        return total;
    }

    /// <summary>
    /// Σ value over the Y lanes of a 2D group (Group.DimY a power of two), separately for each
    /// X lane; every thread gets the total of its X lane.
    /// </summary>
    /// <param name="shared">At least Group.DimX·Group.DimY floats of shared memory.</param>
    public static float SumOverY(ArrayView<float> shared, float value)
    {
        int width = Group.DimX, x = Group.IdxX, y = Group.IdxY;
        int t = y * width + x;
        shared[t] = value;
        Group.Barrier();
        for (int stride = Group.DimY / 2; stride > 0; stride >>= 1)
        {
            if (y < stride) shared[t] += shared[t + stride * width];
            Group.Barrier();
        }
        float total = shared[x];
        Group.Barrier();
        return total;
    }

    /// <summary>
    /// Σ value over the X lanes of a 2D group (Group.DimX a power of two), separately for each Y row; every thread gets
    /// the total of its row.
    /// </summary>
    /// <param name="shared">At least Group.DimX·Group.DimY floats of shared memory.</param>
    public static float SumOverX(ArrayView<float> shared, float value)
    {
        int x = Group.IdxX, row = Group.IdxY * Group.DimX;
        shared[row + x] = value;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride >>= 1)
        {
            if (x < stride) shared[row + x] += shared[row + x + stride];
            Group.Barrier();
        }
        float total = shared[row];
        Group.Barrier();
        return total;
    }

    /// <summary>max value over a 1D group whose size is a power of two; every thread gets the maximum.</summary>
    /// <param name="shared">At least Group.DimX floats of shared memory.</param>
    public static float Max(ArrayView<float> shared, float value)
    {
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride >>= 1)
        {
            if (t < stride && shared[t + stride] > shared[t]) shared[t] = shared[t + stride];
            Group.Barrier();
        }
        float max = shared[0];
        Group.Barrier();
        return max;
    }

    /// <summary>
    /// The index of the largest score over a 1D group whose size is a power of two, the lowest index
    /// winning ties (each thread passes its own best, found scanning its indices in ascending order);
    /// every thread gets the winner. Indices travel as doubles (exact below 2^53).
    /// </summary>
    /// <param name="shared">At least 2·Group.DimX doubles of shared memory: scores, then indices.</param>
    public static int ArgMax(ArrayView<double> shared, double score, int index)
    {
        int t = Group.IdxX, n = Group.DimX;
        shared[t] = score;
        shared[n + t] = index;
        Group.Barrier();
        for (int stride = n / 2; stride > 0; stride >>= 1)
        {
            if (t < stride)
            {
                double other = shared[t + stride], otherIndex = shared[n + t + stride];
                if (other > shared[t] || (other == shared[t] && otherIndex < shared[n + t]))
                {
                    shared[t] = other;
                    shared[n + t] = otherIndex;
                }
            }
            Group.Barrier();
        }
        int winner = (int)shared[n];
        Group.Barrier();
        return winner;
    }
}
