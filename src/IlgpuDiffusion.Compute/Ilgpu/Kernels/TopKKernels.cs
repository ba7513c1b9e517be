using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The top-k filter over the first Vocab entries of [rows, classes], one group per row, without sorting: with the
/// order-preserving integer key of the floats (<see cref="SamplingKernels.Key"/>), the k-th largest value has the
/// largest key c* such that at least k entries have key ≥ c*. That count is monotone in c, so c* is found by
/// bisection between the keys of the row's minimum and maximum (at most 33 passes, each one group sum), then
/// entries with key &lt; c* become −∞. Entries equal to the k-th largest are all kept.
/// </summary>
internal static class TopKKernels
{
    /// <summary>Filters row Grid.IdxX in place. Grid: rows groups of a power of two of threads; shared Group.DimX floats.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void KeepTopK(ArrayView<float> logits, int classes, int vocab, int k)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int start = Grid.IdxX * classes;
        float largest = float.NegativeInfinity, smallest = float.PositiveInfinity;
        for (int v = Group.IdxX; v < vocab; v += Group.DimX)
        {
            float x = logits[start + v];
            if (x > largest) largest = x;
            if (x < smallest) smallest = x;
        }
        largest = GroupReductions.Max(shared, largest);
        smallest = -GroupReductions.Max(shared, -smallest);
        // Invariant: count(key ≥ low) ≥ k > count(key ≥ high). The same on every thread (group reductions).
        long low = SamplingKernels.Key(smallest), high = SamplingKernels.Key(largest) + 1L;
        while (high - low > 1)
        {
            long middle = low + (high - low) / 2;
            float count = 0f; // exact: rows hold far fewer than 2^24 entries
            for (int v = Group.IdxX; v < vocab; v += Group.DimX)
                if (SamplingKernels.Key(logits[start + v]) >= middle) count += 1f;
            if (GroupReductions.Sum(shared, count) >= k) low = middle;
            else high = middle;
        }
        for (int v = Group.IdxX; v < vocab; v += Group.DimX)
            if (SamplingKernels.Key(logits[start + v]) < low) logits[start + v] = float.NegativeInfinity;
    }
}
