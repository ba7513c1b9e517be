using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>LayerNorm without bias and QK-norm: forward with saved statistics, backward by finite differences.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class LayerNormConformanceTests
{
    private const float Eps = 1e-5f;

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Forward_matches_reference_and_saves_mean_and_rstd(string backend) => CheckForward(backend, SmallRows);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Forward_matches_reference_on_model_shapes(string backend) => CheckForward(backend, [(130, 768), (7, 1031)]);

    /// <summary>Rows of one channel, rows shorter and longer than a row of lanes, and a last group of vectors cut short.</summary>
    internal static readonly (int Rows, int Channels)[] SmallRows = [(1, 1), (3, 5), (2, 33), (4, 64), (5, 7)];

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Backward_accumulates_finite_difference_gradients(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (rows, channels) in new[] { (1, 1), (3, 5), (2, 17) })
        {
            var x = Random(rows * channels, 1, 2f);
            var w = Random(channels, 2);
            var dy = Random(rows * channels, 3);
            var (priorX, priorW) = (Random(rows * channels, 4), Random(channels, 5));
            var (y, mean, rstd) = (s.Zeros(rows * channels), s.Zeros(rows), s.Zeros(rows));
            var (xT, wT) = (s.Upload(x), s.Upload(w));
            var (dx, dw) = (s.Upload(priorX), s.Upload(priorW));
            s.Kernels.LayerNormForward(xT, wT, y, mean, rstd, rows, channels, Eps);
            s.Kernels.LayerNormBackward(s.Upload(dy), xT, wT, mean, rstd, dx, dw, rows, channels);
            var fdX = FiniteDifference(v => ReferenceNormalization.LayerNorm(v, D(w), rows, channels, Eps).Output, D(x), D(dy));
            var fdW = FiniteDifference(v => ReferenceNormalization.LayerNorm(D(x), v, rows, channels, Eps).Output, D(w), D(dy));
            AssertClose(Add(D(priorX), fdX), DeviceScope.Download(dx), 1e-4, $"dInput {rows}x{channels}");
            AssertClose(Add(D(priorW), fdW), DeviceScope.Download(dw), 1e-4, $"dWeight {rows}x{channels}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Backward_matches_reference_on_model_shapes(string backend)
    {
        using var s = new DeviceScope(backend);
        CheckBackward(s, 301, 768);
    }

    /// <summary>
    /// Rows for groups of several rows (the last one short), and rows too long for a GPU group to keep their weight terms
    /// in 48 KB of shared memory, which take the input gradient and a column reduction instead.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Backward_matches_reference_for_short_and_long_rows(string backend)
    {
        using var s = new DeviceScope(backend);
        CheckBackward(s, 9, 40);
        CheckBackward(s, 3, 12_400);
    }

    internal static void CheckBackward(DeviceScope s, int rows, int channels)
    {
        var (x, w, dy) = (Random(rows * channels, 1, 3f), Random(channels, 2), Random(rows * channels, 3));
        var (y, mean, rstd, dx, dw) = (s.Zeros(rows * channels), s.Zeros(rows), s.Zeros(rows), s.Zeros(rows * channels), s.Zeros(channels));
        var (xT, wT) = (s.Upload(x), s.Upload(w));
        s.Kernels.LayerNormForward(xT, wT, y, mean, rstd, rows, channels, Eps);
        s.Kernels.LayerNormBackward(s.Upload(dy), xT, wT, mean, rstd, dx, dw, rows, channels);
        var expected = ReferenceNormalization.LayerNormBackward(D(dy), D(x), D(w), rows, channels, Eps);
        AssertClose(expected.DInput, DeviceScope.Download(dx), 1e-4, "dInput");
        AssertClose(expected.DWeight, DeviceScope.Download(dw), 1e-4, "dWeight");
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void QkNorm_forward_normalizes_q_and_k_heads_and_leaves_v(string backend) =>
        CheckQkNormForward(backend, [(1, 1, 2), (3, 2, 6), (2, 3, 34), (1, 3, 5)]);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void QkNorm_forward_matches_reference_on_model_shapes(string backend) =>
        CheckQkNormForward(backend, [(130, 12, 64), (33, 4, 64)]);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void QkNorm_backward_gives_finite_difference_gradients(string backend)
    {
        using var s = new DeviceScope(backend);
        CheckQkNormBackward(s);
    }

    internal static void CheckQkNormBackward(DeviceScope s)
    {
        foreach (var (rows, heads, headDim) in new[] { (1, 1, 2), (3, 2, 6), (5, 2, 17) })
        {
            int length = 3 * rows * heads * headDim;
            var (x, w, dy) = (Random(length, 1, 2f), Random(2 * headDim, 2), Random(length, 3));
            var priorW = Random(2 * headDim, 4);
            var (qkv, dQkv, dw) = (s.Upload(x), s.Upload(dy), s.Upload(priorW));
            var (normalized, rstd) = (s.Zeros(2 * rows * heads * headDim), s.Zeros(2 * rows * heads));
            s.Kernels.QkNormForward(qkv, s.Upload(w), normalized, rstd, rows, heads, headDim, Eps);
            s.Kernels.QkNormBackward(dQkv, s.Upload(w), normalized, rstd, dw, rows, heads, headDim);
            var fdX = FiniteDifference(v => ReferenceNormalization.QkNorm(v, D(w), rows, heads, headDim, Eps).Output, D(x), D(dy));
            var fdW = FiniteDifference(v => ReferenceNormalization.QkNorm(D(x), v, rows, heads, headDim, Eps).Output, D(w), D(dy));
            // fdX of v's slots is dy itself (v passes through): the in-place transform leaves dv as it was.
            AssertClose(fdX, DeviceScope.Download(dQkv), 1e-4, $"dQkv {rows}x{heads}x{headDim}");
            AssertClose(Add(D(priorW), fdW), DeviceScope.Download(dw), 1e-4, $"dWeight {rows}x{heads}x{headDim}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void QkNorm_backward_matches_layer_norm_backward_on_model_shapes(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 97, heads = 12, headDim = 64, length = 3 * rows * heads * headDim;
        var (x, w, dy) = (Random(length, 1, 3f), Random(2 * headDim, 2), Random(length, 3));
        var (qkv, dQkv, dw) = (s.Upload(x), s.Upload(dy), s.Zeros(2 * headDim));
        var (normalized, rstd) = (s.Zeros(2 * rows * heads * headDim), s.Zeros(2 * rows * heads));
        s.Kernels.QkNormForward(qkv, s.Upload(w), normalized, rstd, rows, heads, headDim, Eps);
        s.Kernels.QkNormBackward(dQkv, s.Upload(w), normalized, rstd, dw, rows, heads, headDim);
        var expectedDx = D(dy);
        var expectedDw = new double[2 * headDim];
        for (int slot = 0; slot < 2; slot++)
        {
            var slotW = D(w)[(slot * headDim)..((slot + 1) * headDim)];
            var (vx, vdy) = (QkSlot(D(x), slot, rows, heads, headDim), QkSlot(D(dy), slot, rows, heads, headDim));
            var (dx, dWeight) = ReferenceNormalization.LayerNormBackward(vdy, vx, slotW, rows * heads, headDim, Eps);
            dWeight.CopyTo(expectedDw, slot * headDim);
            for (int v = 0; v < rows * heads; v++)
                Array.Copy(dx, v * headDim, expectedDx, ((v / heads * 3 + slot) * heads + v % heads) * headDim, headDim);
        }
        AssertClose(expectedDx, DeviceScope.Download(dQkv), 1e-4, "dQkv");
        AssertClose(expectedDw, DeviceScope.Download(dw), 1e-4, "dWeight");
    }

    private static double[] QkSlot(double[] qkv, int slot, int rows, int heads, int headDim) =>
        Enumerable.Range(0, rows * heads)
            .SelectMany(v => qkv.Skip(((v / heads * 3 + slot) * heads + v % heads) * headDim).Take(headDim)).ToArray();

    private static void CheckQkNormForward(string backend, (int Rows, int Heads, int HeadDim)[] shapes)
    {
        using var s = new DeviceScope(backend);
        CheckQkNormForward(s, shapes);
    }

    internal static void CheckQkNormForward(DeviceScope s, (int Rows, int Heads, int HeadDim)[] shapes)
    {
        foreach (var (rows, heads, headDim) in shapes)
        {
            // An offset of 10 makes a one-pass variance lose precision; the kernels must not.
            var x = Random(3 * rows * heads * headDim, 1, 2f).Select(v => v + 10f).ToArray();
            var w = Random(2 * headDim, 2);
            var (qkv, normalized, rstd) = (s.Upload(x), s.Zeros(2 * rows * heads * headDim), s.Zeros(2 * rows * heads));
            s.Kernels.QkNormForward(qkv, s.Upload(w), normalized, rstd, rows, heads, headDim, Eps);
            var expected = ReferenceNormalization.QkNorm(D(x), D(w), rows, heads, headDim, Eps);
            string shape = $"{rows}x{heads}x{headDim}";
            AssertClose(expected.Output, DeviceScope.Download(qkv), 1e-4, $"qkv {shape}");
            AssertClose(expected.Normalized, DeviceScope.Download(normalized), 1e-4, $"normalized {shape}");
            AssertClose(expected.Rstd, DeviceScope.Download(rstd), 1e-4, $"rstd {shape}");
        }
    }

    private static void CheckForward(string backend, (int Rows, int Channels)[] shapes)
    {
        using var s = new DeviceScope(backend);
        CheckForward(s, shapes);
    }

    internal static void CheckForward(DeviceScope s, (int Rows, int Channels)[] shapes)
    {
        foreach (var (rows, channels) in shapes)
        {
            // An offset of 10 makes a one-pass variance lose precision; the kernels must not.
            var x = Random(rows * channels, 1, 2f).Select(v => v + 10f).ToArray();
            var w = Random(channels, 2);
            var (y, mean, rstd) = (s.Zeros(rows * channels), s.Zeros(rows), s.Zeros(rows));
            s.Kernels.LayerNormForward(s.Upload(x), s.Upload(w), y, mean, rstd, rows, channels, Eps);
            var expected = ReferenceNormalization.LayerNorm(D(x), D(w), rows, channels, Eps);
            AssertClose(expected.Output, DeviceScope.Download(y), 1e-4, $"output {rows}x{channels}");
            AssertClose(expected.Mean, DeviceScope.Download(mean), 1e-5, $"mean {rows}x{channels}");
            AssertClose(expected.Rstd, DeviceScope.Download(rstd), 1e-4, $"rstd {rows}x{channels}");
        }
    }

    /// <summary>
    /// The fused LayerNorm → modulate gives LayerNormForward then ModulateForward's results bit for bit (the same
    /// arithmetic in each backend's order), with the normalized rows kept or not.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void LayerNorm_then_modulate_in_one_pass_equals_the_two_ops(string backend)
    {
        using var s = new DeviceScope(backend);
        CheckLayerNormThenModulate(s);
    }

    internal static void CheckLayerNormThenModulate(DeviceScope s)
    {
        foreach (var (b, t, c) in new[] { (2, 3, 17), (1, 5, 300) })
        {
            int n = b * t * c;
            var (x, w, shift, scale) = (s.Upload(Random(n, 1, 3f)), s.Upload(Random(c, 2)), s.Upload(Random(b * c, 3)),
                s.Upload(Random(b * c, 4)));
            var (norm, output, mean, rstd) = (s.Zeros(n), s.Zeros(n), s.Zeros(b * t), s.Zeros(b * t));
            s.Kernels.LayerNormForward(x, w, norm, mean, rstd, b * t, c, Eps);
            s.Kernels.ModulateForward(norm, shift, scale, output, b, t, c);
            foreach (bool keep in new[] { true, false })
            {
                var (fusedNorm, fusedOutput, fusedMean, fusedRstd) = (s.Zeros(n), s.Zeros(n), s.Zeros(b * t), s.Zeros(b * t));
                s.Kernels.LayerNormModulateForward(x, w, shift, scale, keep ? fusedNorm : null, fusedOutput, fusedMean, fusedRstd, b, t,
                    c, Eps);
                Assert.Equal(DeviceScope.Download(output), DeviceScope.Download(fusedOutput));
                Assert.Equal(DeviceScope.Download(mean), DeviceScope.Download(fusedMean));
                Assert.Equal(DeviceScope.Download(rstd), DeviceScope.Download(fusedRstd));
                Assert.Equal(keep ? DeviceScope.Download(norm) : new float[n], DeviceScope.Download(fusedNorm));
            }
        }
    }
}
