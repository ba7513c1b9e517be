using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>
/// Rotary embedding (rotate-half over the whole head, fp32 tables): forward against the double reference,
/// the invariants of docs/algorithms.md (§8.3: position 0 is the identity, q·k depends only on the relative offset,
/// v is never rotated), and backward as the inverse (= transpose) rotation.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class RotaryConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Forward_matches_reference(string backend) => CheckForward(backend, [(1, 1, 1, 2, 0), (2, 3, 2, 4, 0), (1, 4, 2, 8, 5)]);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Forward_matches_reference_on_model_shapes(string backend) =>
        CheckForward(backend, [(2, 33, 3, 64, 7), (1, 20, 2, 22, 1000)]);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Position_zero_is_identity_and_v_is_never_rotated(string backend)
    {
        using var s = new DeviceScope(backend);
        const int b = 2, t = 3, h = 2, d = 8;
        var x = Random(b * t * 3 * h * d, 1);
        var (cos, sin) = RotaryTables.Create(t, d);
        var qkv = s.Upload(x);
        s.Kernels.RotaryForward(qkv, s.Upload(cos), s.Upload(sin), b, t, h, d, 0);
        var y = DeviceScope.Download(qkv);
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < t; ti++)
                for (int slot = 0; slot < 3; slot++)
                    for (int hi = 0; hi < h; hi++)
                        for (int di = 0; di < d; di++)
                        {
                            int i = ReferenceAttention.Index(bi, ti, slot, hi, di, t, h, d);
                            if (slot == 2 || ti == 0) Assert.Equal(x[i], y[i]);
                            else Assert.NotEqual(x[i], y[i]);
                        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Query_key_product_depends_only_on_relative_offset(string backend)
    {
        using var s = new DeviceScope(backend);
        const int t = 8, h = 1, d = 8, offset = 1000;
        // The same q and the same k at every position: after rotation q_i·k_j must depend on j − i only.
        var q = Random(d, 2);
        var k = Random(d, 3);
        var x = new float[t * 3 * h * d];
        for (int ti = 0; ti < t; ti++)
        {
            q.CopyTo(x, ReferenceAttention.Index(0, ti, 0, 0, 0, t, h, d));
            k.CopyTo(x, ReferenceAttention.Index(0, ti, 1, 0, 0, t, h, d));
        }
        var (cos, sin) = RotaryTables.Create(offset + t, d);
        var qkv = s.Upload(x);
        s.Kernels.RotaryForward(qkv, s.Upload(cos), s.Upload(sin), 1, t, h, d, offset);
        var y = DeviceScope.Download(qkv);
        double Product(int i, int j) => Enumerable.Range(0, d).Sum(c =>
            (double)y[ReferenceAttention.Index(0, i, 0, 0, c, t, h, d)] * y[ReferenceAttention.Index(0, j, 1, 0, c, t, h, d)]);
        for (int delta = -3; delta <= 3; delta++)
        {
            int first = Math.Max(0, -delta);
            double expected = Product(first, first + delta);
            for (int i = first; i + delta < t && i < t; i++)
                Assert.True(Math.Abs(Product(i, i + delta) - expected) < 1e-3,
                    $"q·k at offset {delta}: {Product(i, i + delta)} vs {expected}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Backward_is_the_inverse_and_the_transpose(string backend)
    {
        using var s = new DeviceScope(backend);
        const int b = 2, t = 5, h = 2, d = 6, offset = 3;
        var x = Random(b * t * 3 * h * d, 4);
        var g = Random(x.Length, 5);
        var (cos, sin) = RotaryTables.Create(offset + t, d);
        var (cosT, sinT) = (s.Upload(cos), s.Upload(sin));
        // Inverse: backward(forward(x)) = x.
        var qkv = s.Upload(x);
        s.Kernels.RotaryForward(qkv, cosT, sinT, b, t, h, d, offset);
        var rotated = DeviceScope.Download(qkv);
        s.Kernels.RotaryBackward(qkv, cosT, sinT, b, t, h, d, offset);
        AssertClose(D(x), DeviceScope.Download(qkv), 1e-6, "backward(forward(x))");
        // Transpose: ⟨R x, g⟩ = ⟨x, Rᵀ g⟩, Rᵀ g from the backward; and Rᵀ g matches finite differences.
        var dQkv = s.Upload(g);
        s.Kernels.RotaryBackward(dQkv, cosT, sinT, b, t, h, d, offset);
        var back = DeviceScope.Download(dQkv);
        double left = rotated.Select((v, i) => (double)v * g[i]).Sum(), right = x.Select((v, i) => (double)v * back[i]).Sum();
        Assert.True(Math.Abs(left - right) < 1e-4 * Math.Max(1, Math.Abs(left)), $"⟨Rx, g⟩ = {left} but ⟨x, Rᵀg⟩ = {right}");
        var fd = FiniteDifference(v => ReferenceAttention.Rotary(v, D(cos), D(sin), b, t, h, d, offset), D(x), D(g));
        AssertClose(fd, back, 1e-5, "dQkv");
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Tables_shorter_than_the_positions_or_odd_heads_throw(string backend)
    {
        using var s = new DeviceScope(backend);
        var (cos, sin) = RotaryTables.Create(4, 4);
        var (qkv, cosT, sinT) = (s.Zeros(3 * 3 * 4), s.Upload(cos), s.Upload(sin));
        Assert.Throws<ArgumentException>(() => s.Kernels.RotaryForward(qkv, cosT, sinT, 1, 3, 1, 4, positionOffset: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.RotaryBackward(qkv, cosT, sinT, 1, 3, 1, 3, 0));
    }

    [Fact]
    public void Tables_are_fp32_like_pytorch()
    {
        const int positions = 1024, d = 64;
        var (cos, sin) = RotaryTables.Create(positions, d);
        Assert.Equal(positions * d / 2, cos.Length);
        for (int j = 0; j < d / 2; j++)
        {
            Assert.Equal(1f, cos[j]);
            Assert.Equal(0f, sin[j]);
            // fp32 inv_freq and fp32 angle (PyTorch's float32 buffers), then fp32 cos/sin.
            float inverseFrequency = 1f / MathF.Pow(10000f, (2 * j) / (float)d);
            float angle = 1023f * inverseFrequency;
            Assert.Equal(MathF.Cos(angle), cos[1023 * d / 2 + j]);
            Assert.Equal(MathF.Sin(angle), sin[1023 * d / 2 + j]);
            // And close to the exact θ = p·10000^(−2j/d): fp32 angle rounding only (≤ 1e-4 rad at p = 1023).
            double exact = 1023 * Math.Pow(10000, -2.0 * j / d);
            Assert.True(Math.Abs(Math.Cos(exact) - cos[1023 * d / 2 + j]) < 1e-4, $"cos at j = {j}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => RotaryTables.Create(4, 5));
    }

    private static void CheckForward(string backend, (int B, int T, int H, int D, int Offset)[] shapes)
    {
        using var s = new DeviceScope(backend);
        foreach (var (b, t, h, d, offset) in shapes)
        {
            var x = Random(b * t * 3 * h * d, 6, 3f);
            var (cos, sin) = RotaryTables.Create(offset + t, d);
            var qkv = s.Upload(x);
            s.Kernels.RotaryForward(qkv, s.Upload(cos), s.Upload(sin), b, t, h, d, offset);
            var expected = ReferenceAttention.Rotary(D(x), D(cos), D(sin), b, t, h, d, offset);
            AssertClose(expected, DeviceScope.Download(qkv), 1e-5, $"qkv B{b} T{t} H{h} d{d} offset {offset}");
        }
    }
}
