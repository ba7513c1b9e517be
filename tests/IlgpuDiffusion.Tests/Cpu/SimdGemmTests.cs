using System.Runtime.Intrinsics;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu;
using IlgpuDiffusion.Cpu.Gemm;
using Xunit;

namespace IlgpuDiffusion.Tests.Cpu;

/// <summary>
/// SimdGemm against a double-accumulation loop: every layout, every SIMD path the hardware
/// accelerates, overwrite and accumulate, odd sizes that leave edge tiles in each dimension,
/// size-1 and zero dimensions, and shapes that cross the cache blocks (Kc, Mc, Nc).
/// </summary>
public sealed class SimdGemmTests
{
    private static readonly MatMulLayout[] Layouts = [MatMulLayout.ABt, MatMulLayout.AB, MatMulLayout.AtB];

    /// <summary>Paths worth testing here (by name: GemmPath is internal): scalar always, vector ones where accelerated.</summary>
    public static TheoryData<string> Paths()
    {
        var data = new TheoryData<string> { nameof(GemmPath.Scalar) };
        if (Vector256.IsHardwareAccelerated) data.Add(nameof(GemmPath.Vector256));
        if (Vector512.IsHardwareAccelerated) data.Add(nameof(GemmPath.Vector512));
        return data;
    }

    /// <summary>(m, n, k): size 1 in each dimension, and sizes that are not multiples of any tile (Mr 4/6/12, Nr 4/16/32).</summary>
    private static readonly (int M, int N, int K)[] SmallShapes =
    [
        (1, 1, 1), (1, 33, 17), (33, 1, 17), (17, 31, 1), (3, 65, 127), (65, 127, 33),
        (31, 17, 3), (127, 33, 65), (13, 32, 64), (24, 96, 16), (37, 129, 7),
    ];

    [Theory]
    [MemberData(nameof(Paths))]
    public void SmallOddShapesMatchReference(string pathName)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        foreach (var layout in Layouts)
            foreach (var (m, n, k) in SmallShapes)
                foreach (bool accumulate in new[] { false, true })
                    CheckAgainstReference(path, layout, m, n, k, accumulate, seed: m * 7919 + n * 31 + k);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ShapeCrossingCacheBlocksMatchesReference(string pathName)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        // k = 260 > Kc (192 / 256), m = 400 > Mc (192 / 120 / 64), enough work to run on the pool; with n = 1100 (over 16
        // column micro-panels per thread on a pool of up to 2 threads) the threads split the columns instead of the rows.
        foreach (var layout in Layouts)
        {
            CheckAgainstReference(path, layout, 400, 500, 260, accumulate: layout == MatMulLayout.AB, seed: 5);
            CheckAgainstReference(path, layout, 300, 1100, 200, accumulate: layout == MatMulLayout.AtB, seed: 6);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void DeepProductSplitsColumnsIntoSeveralPanels(string pathName)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        // k·n exceeds one packed B panel (4 Mi floats), so n is split into column blocks (m = 13: past the skinny path's rows).
        foreach (var layout in Layouts)
            CheckAgainstReference(path, layout, 13, 1100, 4100, accumulate: true, seed: 9);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public unsafe void ZeroDepthGivesZeroOrLeavesC(bool accumulate)
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        fixed (float* pc = c)
            SimdGemm.Multiply(MatMulLayout.ABt, null, null, pc, 2, 3, 0, accumulate);
        Assert.Equal(accumulate ? new float[] { 1, 2, 3, 4, 5, 6 } : new float[6], c);
    }

    [Fact]
    public unsafe void EmptyOutputDoesNothing()
    {
        var c = new float[] { 7 };
        fixed (float* pc = c)
        {
            SimdGemm.Multiply(MatMulLayout.AB, null, null, pc, 0, 5, 3, accumulate: false);
            SimdGemm.Multiply(MatMulLayout.AtB, null, null, pc, 5, 0, 3, accumulate: false);
        }
        Assert.Equal(7f, c[0]);
    }

    [Fact]
    public unsafe void NegativeSizesAreRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SimdGemm.Multiply(MatMulLayout.AB, null, null, null, 1, -1, 1, false));

    [Fact]
    public Task ConcurrentCallersAndNestedCallsGetTheirOwnBuffers() => CheckConcurrentAndNestedCallers(
        caller => (Layouts[caller], 130, 150, 300, 40 + caller), chunk => (MatMulLayout.AtB, 70, 90, 280, 50 + chunk));

    /// <summary>
    /// Two threads multiply at once (one gets the pool, the other runs alone), and a pool job multiplies inside its two
    /// chunks (accumulating): every result must still match the reference.
    /// </summary>
    internal static async Task CheckConcurrentAndNestedCallers(
        Func<int, (MatMulLayout Layout, int M, int N, int K, int Seed)> caller,
        Func<int, (MatMulLayout Layout, int M, int N, int K, int Seed)> nested)
    {
        var callers = Enumerable.Range(0, 2).Select(i => Task.Factory.StartNew(() =>
        {
            var (layout, m, n, k, seed) = caller(i);
            CheckAgainstReference(SimdGemm.BestPath, layout, m, n, k, accumulate: false, seed);
        }, TaskCreationOptions.LongRunning)).ToArray();
        var job = new NestedJob(nested);
        WorkerPool.Shared.Run(job, 2);
        await Task.WhenAll(callers);
        Assert.Equal(2, job.Completed);
    }

    private sealed class NestedJob(Func<int, (MatMulLayout Layout, int M, int N, int K, int Seed)> shape) : IParallelJob
    {
        public int Completed;

        public void Execute(int chunk)
        {
            var (layout, m, n, k, seed) = shape(chunk);
            CheckAgainstReference(SimdGemm.BestPath, layout, m, n, k, accumulate: true, seed);
            Interlocked.Increment(ref Completed);
        }
    }

    /// <summary>
    /// Runs one product and compares each element with a double-accumulated reference:
    /// |got − ref| ≤ 1e-5·sqrt(k)·Σ_p |a·b| + 1e-6·|c0| (fp32 rounding grows like sqrt(k)).
    /// </summary>
    internal static unsafe void CheckAgainstReference(GemmPath path, MatMulLayout layout, int m, int n, int k, bool accumulate, int seed)
    {
        var random = new Random(seed);
        float[] a = RandomArray(random, m * k), b = RandomArray(random, k * n), c = RandomArray(random, m * n);
        float[] c0 = (float[])c.Clone();
        fixed (float* pa = a, pb = b, pc = c)
            SimdGemm.Multiply(path, layout, pa, pb, pc, m, n, k, accumulate);

        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c0[i * n + j] : 0, magnitude = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = layout == MatMulLayout.AtB ? a[p * m + i] : a[i * k + p];  // a [k,m] or [m,k]
                    double bv = layout == MatMulLayout.ABt ? b[j * k + p] : b[p * n + j];  // b [n,k] or [k,n]
                    sum += av * bv;
                    magnitude += Math.Abs(av * bv);
                }
                double tolerance = 1e-5 * Math.Sqrt(k) * magnitude + (accumulate ? 1e-6 * Math.Abs(c0[i * n + j]) : 0);
                double error = Math.Abs(c[i * n + j] - sum);
                if (!(error <= tolerance))
                    Assert.Fail($"{path} {layout} m={m} n={n} k={k} accumulate={accumulate}: c[{i},{j}] = {c[i * n + j]}, " +
                        $"expected {sum} (error {error:G3} > {tolerance:G3}).");
            }
    }

    internal static float[] RandomArray(Random random, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
