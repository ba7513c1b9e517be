using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu;
using IlgpuDiffusion.Cpu.Attention;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>
/// Multi-head attention, bidirectional and causal: forward (output and log-sum-exp) against the double
/// reference, backward against finite differences and the analytic reference (accumulating into dQkv),
/// and the KV-cached decode step against the full causal forward. Shapes: (batch, tokens, heads, headDim);
/// the model shapes use tokens that are not a multiple of the CPU tile (64) and a small and a 64 head.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class AttentionConformanceTests
{
    private static readonly (int B, int T, int H, int D)[] TinyShapes = [(1, 1, 1, 4), (2, 5, 2, 4), (1, 9, 1, 8)];
    private static readonly (int B, int T, int H, int D)[] ModelShapes = [(2, 130, 2, 64), (1, 77, 3, 8), (1, 300, 1, 64)];

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Forward_matches_reference(string backend) => CheckForward(backend, TinyShapes);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Forward_matches_reference_on_model_shapes(string backend) => CheckForward(backend, ModelShapes);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Backward_accumulates_finite_difference_gradients(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (b, t, h, d) in new[] { (1, 3, 1, 4), (2, 5, 2, 4) })
            foreach (bool causal in new[] { false, true })
            {
                var qkv = Random(b * t * 3 * h * d, 1, 2f);
                var dy = Random(b * t * h * d, 2);
                var prior = Random(qkv.Length, 3);
                var dQkv = Backward(s, qkv, dy, prior, b, t, h, d, causal);
                var fd = FiniteDifference(x => ReferenceAttention.Forward(x, b, t, h, d, causal).Output, D(qkv), D(dy));
                AssertClose(Add(D(prior), fd), dQkv, 1e-4, $"dQkv {Name(b, t, h, d, causal)}");
            }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Backward_matches_analytic_reference_on_model_shapes(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (b, t, h, d) in ModelShapes)
            foreach (bool causal in new[] { false, true })
            {
                var qkv = Random(b * t * 3 * h * d, 4, 2f);
                var dy = Random(b * t * h * d, 5);
                var prior = Random(qkv.Length, 6);
                var dQkv = Backward(s, qkv, dy, prior, b, t, h, d, causal);
                var expected = ReferenceAttention.Backward(D(dy), D(qkv), b, t, h, d, causal);
                AssertClose(Add(D(prior), expected), dQkv, 2e-4, $"dQkv {Name(b, t, h, d, causal)}");
            }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Cached_forward_equals_full_causal_forward(string backend)
    {
        CheckCachedForward(backend, 2, 2, 4, 7, [1, 1, 1, 1, 1, 1, 1]);
        CheckCachedForward(backend, 2, 2, 4, 7, [3, 1, 3]);
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Cached_forward_equals_full_causal_forward_on_model_shapes(string backend)
    {
        CheckCachedForward(backend, 1, 2, 64, 150, [1, 63, 2, 83, 1]);
        CheckCachedForward(backend, 2, 3, 8, 70, [70]);
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Bad_sizes_throw_before_any_work(string backend)
    {
        using var s = new DeviceScope(backend);
        var (qkv, output, lse) = (s.Zeros(2 * 3 * 4), s.Zeros(2 * 4), s.Zeros(2));
        Assert.Throws<ArgumentException>(() => s.Kernels.AttentionForward(qkv, output, lse, 1, 3, 1, 4, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.AttentionForward(qkv, output, lse, 1, 2, 0, 4, false));
        var cache = s.Zeros(4 * 4);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            s.Kernels.AttentionWithCacheForward(qkv, cache, cache, output, 1, 2, 1, 4, position: 3, capacity: 4));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Empty_batch_or_sequence_writes_nothing(string backend)
    {
        using var s = new DeviceScope(backend);
        var (qkv, output, lse, dQkv) = (s.Upload(Random(24, 15)), s.Upload(Random(8, 16)), s.Upload(Random(2, 17)),
            s.Upload(Random(24, 18)));
        s.Kernels.AttentionForward(qkv, output, lse, 0, 2, 1, 4, causal: false);
        s.Kernels.AttentionForward(qkv, output, lse, 1, 0, 1, 4, causal: true);
        s.Kernels.AttentionBackward(output, qkv, output, lse, dQkv, 1, 0, 1, 4, causal: false);
        s.Kernels.AttentionWithCacheForward(qkv, dQkv, dQkv, output, 1, 0, 1, 4, position: 2, capacity: 6);
        Assert.Equal(Random(8, 16), DeviceScope.Download(output));
        Assert.Equal(Random(2, 17), DeviceScope.Download(lse));
        Assert.Equal(Random(24, 18), DeviceScope.Download(dQkv));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Cpu_kernels_agree_with_reference_at_every_vector_width(int width)
    {
        var level = (SimdLevel)width; // Scalar, Vector256, Vector512
        if (level > Simd.Best) return; // the CPU cannot run this width
        using var s = new DeviceScope("cpu");
        var kernels = (CpuKernels)((DeviceKernels)s.Kernels).Backend;
        kernels.AttentionLevel = level;
        try
        {
            const int b = 1, t = 70, h = 2, d = 24;
            foreach (bool causal in new[] { false, true })
            {
                var qkv = Random(b * t * 3 * h * d, 7, 2f);
                var dy = Random(b * t * h * d, 8);
                var (output, _) = Forward(s, qkv, b, t, h, d, causal);
                AssertClose(ReferenceAttention.Forward(D(qkv), b, t, h, d, causal).Output, output, 1e-4, $"output {level}");
                var dQkv = Backward(s, qkv, dy, new float[qkv.Length], b, t, h, d, causal);
                AssertClose(ReferenceAttention.Backward(D(dy), D(qkv), b, t, h, d, causal), dQkv, 2e-4, $"dQkv {level}");
            }
            // A prefill then single-token decode steps (the row-wise path; d = 32 vectorizes, d = 24 does not).
            CheckCachedForward("cpu", 1, 2, 32, 70, [68, 1, 1]);
            CheckCachedForward("cpu", 1, 2, 24, 70, [68, 1, 1]);
        }
        finally
        {
            kernels.AttentionLevel = Simd.Best;
        }
    }

    [Fact]
    public void Cpu_attention_allocates_nothing_after_warm_up()
    {
        using var s = new DeviceScope("cpu");
        const int b = 2, t = 100, h = 2, d = 64, capacity = 128;
        var (qkv, dQkv) = (s.Upload(Random(b * t * 3 * h * d, 9)), s.Zeros(b * t * 3 * h * d));
        var (output, dOutput, lse, cache) = (s.Zeros(b * t * h * d), s.Upload(Random(b * t * h * d, 10)), s.Zeros(b * h * t),
            s.Zeros(b * h * capacity * d));
        var (cos, sin) = RotaryTables.Create(t, d);
        var (cosT, sinT) = (s.Upload(cos), s.Upload(sin));
        var k = s.Kernels;
        void Step()
        {
            k.RotaryForward(qkv, cosT, sinT, b, t, h, d, 0);
            k.AttentionForward(qkv, output, lse, b, t, h, d, causal: false);
            k.AttentionBackward(dOutput, qkv, output, lse, dQkv, b, t, h, d, causal: true);
            k.RotaryBackward(dQkv, cosT, sinT, b, t, h, d, 0);
            k.AttentionWithCacheForward(qkv, cache, cache, output, b, t, h, d, 0, capacity);
        }
        SteadyStateAllocation.AssertNone(Step);
    }

    private static void CheckForward(string backend, (int B, int T, int H, int D)[] shapes)
    {
        using var s = new DeviceScope(backend);
        foreach (var (b, t, h, d) in shapes)
            foreach (bool causal in new[] { false, true })
            {
                var qkv = Random(b * t * 3 * h * d, 11, 2f);
                var (output, lse) = Forward(s, qkv, b, t, h, d, causal);
                var expected = ReferenceAttention.Forward(D(qkv), b, t, h, d, causal);
                AssertClose(expected.Output, output, 1e-4, $"output {Name(b, t, h, d, causal)}");
                AssertClose(expected.LogSumExp, lse, 1e-5, $"logSumExp {Name(b, t, h, d, causal)}");
            }
    }

    // Feeds the sequence in chunks of the given sizes through the cache and compares each chunk's output
    // with the rows of one full causal forward on the same device; the cache must hold k and v verbatim.
    private static void CheckCachedForward(string backend, int b, int h, int d, int t, int[] chunks)
    {
        using var s = new DeviceScope(backend);
        var qkv = Random(b * t * 3 * h * d, 12, 2f);
        var (full, _) = Forward(s, qkv, b, t, h, d, causal: true);
        var expected = ReferenceAttention.Forward(D(qkv), b, t, h, d, causal: true).Output;
        AssertClose(expected, full, 1e-4, "full causal forward");
        int capacity = t + 3;
        var (kCache, vCache) = (s.Upload(Random(b * h * capacity * d, 13)), s.Upload(Random(b * h * capacity * d, 14)));
        int position = 0;
        foreach (int n in chunks)
        {
            var step = new float[b * n * 3 * h * d];
            for (int bi = 0; bi < b; bi++)
                Array.Copy(qkv, (bi * t + position) * 3 * h * d, step, bi * n * 3 * h * d, n * 3 * h * d);
            var output = s.Zeros(b * n * h * d);
            s.Kernels.AttentionWithCacheForward(s.Upload(step), kCache, vCache, output, b, n, h, d, position, capacity);
            var actual = DeviceScope.Download(output);
            var want = new double[actual.Length];
            for (int bi = 0; bi < b; bi++)
                for (int i = 0; i < n * h * d; i++)
                    want[bi * n * h * d + i] = full[(bi * t + position) * h * d + i];
            AssertClose(want, actual, 1e-4, $"cached rows [{position}, {position + n}) of {Name(b, t, h, d, true)}");
            position += n;
        }
        var (kc, vc) = (DeviceScope.Download(kCache), DeviceScope.Download(vCache));
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int ti = 0; ti < t; ti++)
                    for (int di = 0; di < d; di++)
                    {
                        int slot = ((bi * h + hi) * capacity + ti) * d + di;
                        Assert.Equal(qkv[ReferenceAttention.Index(bi, ti, 1, hi, di, t, h, d)], kc[slot]);
                        Assert.Equal(qkv[ReferenceAttention.Index(bi, ti, 2, hi, di, t, h, d)], vc[slot]);
                    }
    }

    private static (float[] Output, float[] LogSumExp) Forward(DeviceScope s, float[] qkv, int b, int t, int h, int d, bool causal)
    {
        var (output, lse) = (s.Zeros(b * t * h * d), s.Zeros(b * h * t));
        s.Kernels.AttentionForward(s.Upload(qkv), output, lse, b, t, h, d, causal);
        return (DeviceScope.Download(output), DeviceScope.Download(lse));
    }

    private static float[] Backward(DeviceScope s, float[] qkv, float[] dy, float[] prior, int b, int t, int h, int d, bool causal)
    {
        var (qkvT, output, lse, dQkv) = (s.Upload(qkv), s.Zeros(b * t * h * d), s.Zeros(b * h * t), s.Upload(prior));
        s.Kernels.AttentionForward(qkvT, output, lse, b, t, h, d, causal);
        s.Kernels.AttentionBackward(s.Upload(dy), qkvT, output, lse, dQkv, b, t, h, d, causal);
        return DeviceScope.Download(dQkv);
    }

    private static string Name(int b, int t, int h, int d, bool causal) => $"B{b} T{t} H{h} d{d} {(causal ? "causal" : "bidirectional")}";
}
