using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>Dropout: the Philox mask is the same on every backend and is regenerated in backward.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class DropoutConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Forward_and_backward_apply_the_same_philox_mask(string backend)
    {
        using var s = new DeviceScope(backend);
        const float p = 0.3f;
        const ulong seed = 0x1234_5678_9ABCUL, stream = 77;
        foreach (int n in backend == "ilgpu-cpu" ? new[] { 1, 5, 37 } : [1, 5, 37, 100_003])
        {
            var (x, dy, prior) = (Random(n, 1), Random(n, 2), Random(n, 3));
            var (y, dx) = (s.Zeros(n), s.Upload(prior));
            s.Kernels.DropoutForward(s.Upload(x), y, n, p, seed, stream);
            s.Kernels.DropoutBackward(s.Upload(dy), dx, n, p, seed, stream);
            var factor = Enumerable.Range(0, n).Select(i => ReferenceElementwise.DropoutFactor(i, p, seed, stream)).ToArray();
            AssertClose(factor.Select((f, i) => f * x[i]).ToArray(), DeviceScope.Download(y), 1e-6, $"forward n={n}");
            AssertClose(factor.Select((f, i) => prior[i] + f * dy[i]).ToArray(), DeviceScope.Download(dx), 1e-5, $"backward n={n}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Keep_fraction_matches_the_probability_and_streams_differ(string backend)
    {
        using var s = new DeviceScope(backend);
        const int n = 200_000;
        var ones = s.Upload(Enumerable.Repeat(1f, n).ToArray());
        var (a, b) = (s.Zeros(n), s.Zeros(n));
        s.Kernels.DropoutForward(ones, a, n, 0.1f, 42, 0);
        s.Kernels.DropoutForward(ones, b, n, 0.1f, 42, 1);
        var (maskA, maskB) = (DeviceScope.Download(a), DeviceScope.Download(b));
        double kept = maskA.Count(v => v != 0) / (double)n;
        Assert.InRange(kept, 0.9 - 0.004, 0.9 + 0.004); // ±6σ for a binomial with p = 0.9
        Assert.All(maskA.Where(v => v != 0), v => Assert.Equal(1f / 0.9f, v, 1e-6f));
        int agree = maskA.Zip(maskB).Count(pair => (pair.First != 0) == (pair.Second != 0));
        Assert.InRange(agree / (double)n, 0.82 - 0.01, 0.82 + 0.01); // independent masks agree with p² + (1−p)²
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Probability_outside_zero_to_one_is_rejected(string backend)
    {
        using var s = new DeviceScope(backend);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.DropoutForward(s.Zeros(4), s.Zeros(4), 4, 1f, 1, 0));
    }

    [Fact]
    public void Philox_matches_the_published_known_answer()
    {
        // Random123 kat_vectors: philox4x32-10 with counter and key all 0xFFFFFFFF.
        Philox.Generate(uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue,
            out uint r0, out uint r1, out uint r2, out uint r3);
        Assert.Equal([0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu], new[] { r0, r1, r2, r3 });
        Philox.Generate(0, 0, 0, 0, 0, 0, out r0, out r1, out r2, out r3);
        Assert.Equal([0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u], new[] { r0, r1, r2, r3 });
    }
}
