using System.Buffers;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu;
using IlgpuDiffusion.Cpu.Gemm;
using Xunit;

namespace IlgpuDiffusion.Tests.Cpu;

/// <summary>
/// The skinny path of SimdGemm (at most <see cref="SkinnyGemm.MaxRows"/> rows of c): every layout and path against the
/// double reference for m = 1 up to one row past the bound (which the blocked path takes), odd n and k that leave
/// tails in every kernel, products large enough to split over the pool; the blocked path's bits for every row; the same
/// bits on any thread count; and no allocation once warm.
/// </summary>
public sealed class SkinnyGemmTests
{
    private static readonly MatMulLayout[] Layouts = [MatMulLayout.ABt, MatMulLayout.AB, MatMulLayout.AtB];

    private static readonly int[] ThreadCounts = [1, 2, 3, 5, 8];

    /// <summary>One pool per thread count, shared by the paths' cases (pool threads live as long as the process).</summary>
    private static readonly WorkerPool[] Pools = ThreadCounts.Select(threads => new WorkerPool(threads)).ToArray();

    /// <summary>
    /// (n, k): size 1, sizes that leave weight-row, column and depth tails at every vector width, and two products big
    /// enough to run in several chunks on the pool (n·k ≥ 65536, n ≥ 512 columns for AB and AtB).
    /// </summary>
    private static readonly (int N, int K)[] Shapes =
    [
        (1, 1), (3, 17), (17, 3), (31, 33), (33, 31), (1, 1031), (1031, 1), (257, 1029), (1101, 70),
    ];

    [Theory]
    [MemberData(nameof(SimdGemmTests.Paths), MemberType = typeof(SimdGemmTests))]
    public void Rows_up_to_one_past_the_bound_match_the_reference(string pathName)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        foreach (var layout in Layouts)
            for (int m = 1; m <= SkinnyGemm.MaxRows + 1; m++)
                foreach (var (n, k) in Shapes)
                    foreach (bool accumulate in new[] { false, true })
                        SimdGemmTests.CheckAgainstReference(path, layout, m, n, k, accumulate, seed: m * 7919 + n * 31 + k);
    }

    [Theory]
    [MemberData(nameof(SimdGemmTests.Paths), MemberType = typeof(SimdGemmTests))]
    public unsafe void Rows_get_the_bits_of_the_blocked_path_whatever_m(string pathName)
    {
        // A head on a few selected rows must equal the full head on those rows, and a cached decoding step the full
        // forward: the first m rows of a product with more rows than the bound (blocked path) are the m-row product.
        var path = Enum.Parse<GemmPath>(pathName);
        const int big = SkinnyGemm.MaxRows + 5;
        foreach (var (n, k) in new[] { (33, 31), (50, 400), (1101, 70), (257, 1029) })
        {
            var random = new Random(n + k);
            float[] a = SimdGemmTests.RandomArray(random, big * k), b = SimdGemmTests.RandomArray(random, n * k);
            float[] c0 = SimdGemmTests.RandomArray(random, big * n);
            foreach (var layout in Layouts)
                foreach (bool accumulate in new[] { false, true })
                {
                    float[] full = (float[])c0.Clone();
                    fixed (float* pa = a, pb = b, pc = full)
                        SimdGemm.Multiply(path, layout, pa, pb, pc, big, n, k, accumulate);
                    for (int m = 1; m <= SkinnyGemm.MaxRows; m++)
                    {
                        // AtB's a is [k, m]: the first m columns of the big one.
                        float[] rows = layout == MatMulLayout.AtB
                            ? Enumerable.Range(0, k * m).Select(x => a[x / m * big + x % m]).ToArray()
                            : a[..(m * k)];
                        float[] part = c0[..(m * n)];
                        fixed (float* pa = rows, pb = b, pc = part)
                            SimdGemm.Multiply(path, layout, pa, pb, pc, m, n, k, accumulate);
                        Assert.True(full.AsSpan(0, m * n).SequenceEqual(part), $"{path} {layout} n={n} k={k} " +
                            $"accumulate={accumulate}: rows of the {m}-row product differ from the {big}-row one.");
                    }
                }
        }
    }

    [Theory]
    [MemberData(nameof(SimdGemmTests.Paths), MemberType = typeof(SimdGemmTests))]
    public unsafe void Results_do_not_depend_on_the_thread_count(string pathName)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        const int n = 1101, k = 333;
        var random = new Random(3);
        float[] a = SimdGemmTests.RandomArray(random, SkinnyGemm.MaxRows * k), b = SimdGemmTests.RandomArray(random, n * k);
        float[] c0 = SimdGemmTests.RandomArray(random, SkinnyGemm.MaxRows * n);
        foreach (var layout in Layouts)
            foreach (int m in new[] { 1, 3, SkinnyGemm.MaxRows })
                foreach (bool accumulate in new[] { false, true })
                {
                    float[]? first = null;
                    for (int t = 0; t < Pools.Length; t++)
                    {
                        float[] c = (float[])c0.Clone();
                        fixed (float* pa = a, pb = b, pc = c)
                            SkinnyGemm.Multiply(Pools[t], path, layout, pa, pb, pc, m, n, k, accumulate);
                        first ??= c;
                        Assert.True(first.AsSpan().SequenceEqual(c),
                            $"{path} {layout} m={m} accumulate={accumulate}: {ThreadCounts[t]} threads gave other bits than 1 thread.");
                    }
                }
    }

    [Fact]
    public void Small_products_stay_on_the_calling_thread_and_large_ones_share_the_pool_evenly()
    {
        // Below 65536 floats of b (here 60000): one chunk, however many threads.
        Assert.Equal(1, SkinnyGemm.ChunkCount(MatMulLayout.AB, 600, 100, 2));
        Assert.Equal(1, SkinnyGemm.ChunkCount(MatMulLayout.ABt, 600, 100, 8));
        Assert.Equal(1, SkinnyGemm.ChunkCount(MatMulLayout.ABt, 50257, 768, 1));
        // GPT-2's head: four chunks per thread. 768 columns of AB, at least 256 per chunk: 3, rounded to a multiple of 2.
        Assert.Equal(8, SkinnyGemm.ChunkCount(MatMulLayout.ABt, 50257, 768, 2));
        Assert.Equal(2, SkinnyGemm.ChunkCount(MatMulLayout.AB, 768, 3072, 2));
    }

    [Fact]
    public unsafe void Register_transposes_equal_the_portable_one()
    {
        // The portable transpose stands in on hardware without the shuffles; on this one it is the reference.
        const int stride = 19, destinationStride = 37;
        float[] source = SimdGemmTests.RandomArray(new Random(8), 16 * stride);
        float[] expected = new float[16 * destinationStride], actual = new float[16 * destinationStride];
        fixed (float* s = source, e = expected, d = actual)
        {
            if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            {
                SkinnyTranspose.Scalar(16, s, stride, e, destinationStride);
                SkinnyLanes512.Transpose(s, stride, d, destinationStride);
                Assert.Equal(expected, actual);
            }
            if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
            {
                SkinnyTranspose.Scalar(8, s + 3, stride, e, destinationStride);
                SkinnyLanes256.Transpose(s + 3, stride, d, destinationStride);
                Assert.Equal(expected, actual);
            }
        }
    }

    [Fact]
    public Task Concurrent_and_nested_callers_get_their_own_jobs() => SimdGemmTests.CheckConcurrentAndNestedCallers(
        caller => (Layouts[caller], 3 + caller, 1500, 300, 60 + caller), chunk => (Layouts[chunk], 8, 1200, 280, 70 + chunk));

    [Fact]
    public unsafe void Decode_sized_products_allocate_nothing_after_warm_up()
    {
        const int m = SkinnyGemm.MaxRows, n = 1101, k = 300;
        var random = new Random(5);
        float[] a = SimdGemmTests.RandomArray(random, m * k), b = SimdGemmTests.RandomArray(random, n * k), c = new float[m * n];
        using MemoryHandle pa = a.AsMemory().Pin(), pb = b.AsMemory().Pin(), pc = c.AsMemory().Pin();
        float* x = (float*)pa.Pointer, y = (float*)pb.Pointer, z = (float*)pc.Pointer;
        // The shared check: the runtime's own wait objects may land in a step or two under load; an allocating path
        // allocates in every step.
        SteadyStateAllocation.AssertNone(() =>
        {
            foreach (var layout in Layouts)
            {
                SimdGemm.Multiply(layout, x, y, z, 1, n, k, accumulate: false);
                SimdGemm.Multiply(layout, x, y, z, m, n, k, accumulate: true);
            }
        });
    }
}
