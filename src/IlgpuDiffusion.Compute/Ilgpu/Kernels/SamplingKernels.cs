using ILGPU;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// One categorical draw launch: logits are scaled by InverseTemperature (in double); Nucleus ≠ 0 restricts
/// the draw to the top-p set of mass TopP; InverseCdf ≠ 0 draws by the inverse CDF, else by the exponential race.
/// </summary>
internal readonly record struct SamplingArguments(int Classes, int Vocab, double InverseTemperature, double TopP,
    ulong Seed, ulong Step, int Nucleus, int InverseCdf, long FirstRow);

/// <summary>
/// Categorical draws and argmax over the first Vocab entries of [rows, classes], one group per row,
/// in the same fp64 arithmetic as the SIMD backend so that both return the same ids for a seed (up to the rounding of
/// the inverse CDF's sums, which reorders them: ids differ only where U·Σ falls within rounding of a boundary).
/// The inverse CDF gives each thread a contiguous block of entries; thread 0 adds the blocks' masses in order, and the
/// one thread whose block holds U·Σ walks it. The exponential race argmax_v (l_v/T − log(−log(U_v + 1e-10) + 1e-10)) has
/// each thread scanning its entries in ascending order and the group reducing (score, index) pairs with the lowest
/// index winning ties (<see cref="GroupReductions.ArgMax"/>).
/// The nucleus is found without sorting: the scaled logit l·(1/T) is strictly increasing in the float l,
/// so the nucleus is {v : key(l_v) ≥ k*} for the order-preserving integer key of the float, with k* the
/// largest key whose set holds mass ≥ topP·Σ. That mass is monotone in k, so k* is found by bisection over
/// the keys, each step snapped to the entries' keys (one pass and one group reduction per step), and
/// k* is the key of the smallest member: the same set as the sorted definition, ties at the cut kept.
/// </summary>
internal static class SamplingKernels
{
    /// <summary>ids[r] = the id drawn for row r. Grid: rows groups; shared 5·Group.DimX doubles.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Sample(ArrayView<float> logits, ArrayView<int> ids, SamplingArguments a)
    {
        var shared = SharedMemory.GetDynamic<double>();
        int row = Grid.IdxX, start = row * a.Classes;
        int cut = a.Nucleus != 0 ? NucleusCut(shared, logits, start, a) : int.MinValue;
        if (a.InverseCdf != 0) InverseCdf(shared, logits, ids, row, start, cut, a);
        else Race(shared, logits, ids, row, start, cut, a);
    }

    /// <summary>
    /// The inverse CDF: the first member whose running mass exceeds U·Σ, U = UniformDouble(seed, step, FirstRow + row),
    /// written by the one thread whose block holds it. Shared: 2·Group.DimX + 1 doubles.
    /// </summary>
    private static void InverseCdf(ArrayView<double> shared, ArrayView<float> logits, ArrayView<int> ids, int row, int start, int cut,
        in SamplingArguments a)
    {
        int t = Group.IdxX, n = Group.DimX;
        int per = (a.Vocab + n - 1) / n, begin = Math.Min(a.Vocab, t * per), end = Math.Min(a.Vocab, begin + per);
        float highest = float.NegativeInfinity;
        for (int v = begin; v < end; v++) highest = Math.Max(highest, logits[start + v]);
        shared[t] = highest;
        Group.Barrier();
        for (int stride = n / 2; stride > 0; stride >>= 1)
        {
            if (t < stride && shared[t + stride] > shared[t]) shared[t] = shared[t + stride];
            Group.Barrier();
        }
        double maxScaled = (float)shared[0] * a.InverseTemperature;
        Group.Barrier();

        double own = 0;
        for (int v = begin; v < end; v++)
        {
            float x = logits[start + v];
            if (Key(x) >= cut) own += Math.Exp(x * a.InverseTemperature - maxScaled);
        }
        shared[t] = own;
        Group.Barrier();
        if (t == 0)
        {
            // shared[n + i]: the mass of blocks before block i; shared[2n]: the whole mass.
            double running = 0;
            for (int i = 0; i < n; i++)
            {
                double block = shared[i];
                shared[n + i] = running;
                running += block;
            }
            shared[2 * n] = running;
        }
        Group.Barrier();
        double total = shared[2 * n], before = shared[n + t], after = t + 1 < n ? shared[n + t + 1] : total;
        // ILGPU's CPU accelerator runs the next row's group on these threads with the same shared memory: no thread may
        // overwrite it until every thread has read this row's sums.
        Group.Barrier();
        if (!(total > 0)) // a NaN or +∞ logit, or none finite: the same for every thread
        {
            if (t == 0) ids[row] = -1;
            return;
        }
        double target = Philox.UniformDouble(a.Seed, a.Step, a.FirstRow + row) * total;
        if (target >= total) target = total * (1 - 2.220446049250313e-16);
        if (own > 0 && before <= target && target < after)
        {
            double mass = before;
            int last = -1;
            for (int v = begin; v < end; v++)
            {
                float x = logits[start + v];
                if (Key(x) < cut) continue;
                double m = Math.Exp(x * a.InverseTemperature - maxScaled);
                if (m == 0) continue;
                last = v;
                mass += m;
                if (mass > target) break;
            }
            ids[row] = last;
        }
    }

    /// <summary>The exponential race, reduced over the group; thread 0 writes the winner. Shared: 2·Group.DimX doubles.</summary>
    private static void Race(ArrayView<double> shared, ArrayView<float> logits, ArrayView<int> ids, int row, int start, int cut,
        in SamplingArguments a)
    {
        long first = (a.FirstRow + row) * a.Vocab;
        int best = -1;
        double bestScore = double.NegativeInfinity;
        for (int v = Group.IdxX; v < a.Vocab; v += Group.DimX)
        {
            float x = logits[start + v];
            if (Key(x) < cut) continue;
            double u = Philox.UniformDouble(a.Seed, a.Step, first + v);
            double score = x * a.InverseTemperature - Math.Log(-Math.Log(u + 1e-10) + 1e-10);
            if (score > bestScore)
            {
                bestScore = score;
                best = v;
            }
        }
        int winner = GroupReductions.ArgMax(shared, bestScore, best);
        if (Group.IdxX == 0) ids[row] = winner;
    }

    /// <summary>
    /// ids[r] = argmax over v &lt; vocab of logits[r, v], lowest index on ties. Grid: rows groups; shared ≥ 2·Group.DimX doubles.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Argmax(ArrayView<float> logits, ArrayView<int> ids, int classes, int vocab)
    {
        var shared = SharedMemory.GetDynamic<double>();
        int row = Grid.IdxX, start = row * classes;
        int best = int.MaxValue; // a thread without entries loses every tie
        double bestScore = double.NegativeInfinity;
        for (int v = Group.IdxX; v < vocab; v += Group.DimX)
        {
            float x = logits[start + v];
            if (best == int.MaxValue || x > bestScore)
            {
                bestScore = x;
                best = v;
            }
        }
        int winner = GroupReductions.ArgMax(shared, bestScore, best);
        if (Group.IdxX == 0) ids[row] = winner;
    }

    /// <summary>An integer key with the order of the floats (−0 and +0 share a key).</summary>
    public static int Key(float x)
    {
        int bits = (int)Interop.FloatAsInt(x == 0f ? 0f : x);
        return bits >= 0 ? bits : bits ^ 0x7FFFFFFF;
    }

    /// <summary>k*: the largest key whose entries {v : key(l_v) ≥ k*} hold mass ≥ topP·Σ_v exp(l_v/T − max).</summary>
    private static int NucleusCut(ArrayView<double> shared, ArrayView<float> logits, int start, in SamplingArguments a)
    {
        // A first pass for the smallest and largest keys (its masses, unscaled, are not used).
        Scan(shared, logits, start, a, int.MinValue, 0, out _, out _, out long smallest, out _, out long largest);
        double maxScaled = FromKey((int)largest) * a.InverseTemperature;
        // Invariant: low is an entry's key with mass(low) ≥ target, mass(high) < target. Each step bisects
        // and then snaps to the nearest entry keys, so it ends after at most min(33, distinct values) steps.
        long low = smallest, high = largest + 1;
        while (high - low > 1) // the same on every thread: the scan results come from one group reduction
        {
            long middle = low + (high - low) / 2;
            Scan(shared, logits, start, a, (int)middle, maxScaled, out double above, out double total, out long up, out long down, out _);
            if (above >= a.TopP * total) low = up;
            else high = down + 1;
        }
        return (int)low;
    }

    /// <summary>
    /// One pass over the row and one group reduction: with m_v = exp(l_v/T − maxScaled), the mass of the entries
    /// with key(l_v) ≥ cut and of all entries (in double), the smallest key at or above the cut (<paramref name="up"/>,
    /// meaningful when such entries exist), the largest key below it (<paramref name="down"/>, likewise) and the
    /// largest key; every thread gets the same five. Shared: 5·Group.DimX doubles.
    /// </summary>
    private static void Scan(ArrayView<double> shared, ArrayView<float> logits, int start, in SamplingArguments a, int cut,
        double maxScaled, out double above, out double total, out long up, out long down, out long largest)
    {
        double massAbove = 0, massAll = 0, lowestAbove = double.PositiveInfinity, highestBelow = double.NegativeInfinity;
        double highest = double.NegativeInfinity;
        for (int v = Group.IdxX; v < a.Vocab; v += Group.DimX)
        {
            float x = logits[start + v];
            int key = Key(x);
            double mass = Math.Exp(x * a.InverseTemperature - maxScaled);
            massAll += mass;
            if (key > highest) highest = key;
            if (key >= cut)
            {
                massAbove += mass;
                if (key < lowestAbove) lowestAbove = key;
            }
            else if (key > highestBelow) highestBelow = key;
        }
        int t = Group.IdxX, n = Group.DimX;
        shared[t] = massAbove;
        shared[n + t] = massAll;
        shared[2 * n + t] = lowestAbove;
        shared[3 * n + t] = highestBelow;
        shared[4 * n + t] = highest;
        Group.Barrier();
        for (int stride = n / 2; stride > 0; stride >>= 1)
        {
            if (t < stride)
            {
                shared[t] += shared[t + stride];
                shared[n + t] += shared[n + t + stride];
                if (shared[2 * n + t + stride] < shared[2 * n + t]) shared[2 * n + t] = shared[2 * n + t + stride];
                if (shared[3 * n + t + stride] > shared[3 * n + t]) shared[3 * n + t] = shared[3 * n + t + stride];
                if (shared[4 * n + t + stride] > shared[4 * n + t]) shared[4 * n + t] = shared[4 * n + t + stride];
            }
            Group.Barrier();
        }
        above = shared[0];
        total = shared[n];
        up = (long)shared[2 * n];
        down = (long)shared[3 * n];
        largest = (long)shared[4 * n];
        Group.Barrier();
    }

    /// <summary>The float whose <see cref="Key"/> is <paramref name="key"/>.</summary>
    private static float FromKey(int key) => Interop.IntAsFloat((uint)(key >= 0 ? key : key ^ 0x7FFFFFFF));

    /// <summary>target[rows[j]] = ids[j] when in [0, limit), else replacement; one thread per j (rows distinct).</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void ScatterIds(Index1D j, ArrayView<int> ids, ArrayView<int> rows, ArrayView<int> target, int limit, int replacement)
    {
        int id = ids[j];
        target[rows[j]] = (uint)id < (uint)limit ? id : replacement;
    }
}
