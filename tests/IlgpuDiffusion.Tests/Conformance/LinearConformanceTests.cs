using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;
using Rounding = IlgpuDiffusion.Ilgpu.Kernels.TensorCoreRounding;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>GEMM in all three layouts and Linear forward/backward, on every backend.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class LinearConformanceTests
{
    private static readonly (int M, int N, int K)[] SmallShapes = [(1, 1, 1), (3, 5, 7), (17, 9, 33), (5, 13, 1), (2, 1, 19)];
    private static readonly (int M, int N, int K)[] LargeShapes = [(129, 257, 300), (64, 2304, 96), (300, 65, 513)];

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void MatMul_small_shapes_match_reference(string backend) => CheckMatMul(backend, SmallShapes);

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void MatMul_blocked_shapes_match_reference(string backend) => CheckMatMul(backend, LargeShapes);

    /// <summary>
    /// Tensor-core GEMMs against the double-precision product of inputs rounded as the hardware rounds them (TF32: 10
    /// mantissa bits, ties away; BF16: 7 bits, ties to even): the products are then exact, and the tolerance only covers the
    /// order of fp32 sums, 1e-5 of Σ|a·b| per element. Shapes of the model (the Small model's 768 and 3072 channels, split-K
    /// weight gradients, the adaLN row) and tile edges.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.TensorCores), MemberType = typeof(TestBackends))]
    public void Tensor_core_GEMMs_match_the_product_of_rounded_inputs(string backend)
    {
        using var s = new DeviceScope(backend);
        Func<float, float> round = backend.StartsWith("cuda-tf32", StringComparison.Ordinal) ? Rounding.Tf32 : Rounding.Bf16;
        (MatMulLayout, int, int, int)[] cases =
        [
            (MatMulLayout.ABt, 1024, 2304, 768), (MatMulLayout.ABt, 1000, 770, 3072), (MatMulLayout.AB, 1024, 768, 3072),
            (MatMulLayout.AtB, 768, 3072, 2048), (MatMulLayout.AtB, 4608, 128, 8), (MatMulLayout.AB, 1, 128, 4608),
            (MatMulLayout.ABt, 130, 70, 37),
        ];
        foreach (var (layout, m, n, k) in cases)
        {
            var a = Random(m * k, m + k);
            var b = Random(n * k, n + k);
            var (expected, magnitude) = RoundedProduct(layout, a, b, m, n, k, round);
            foreach (bool accumulate in new[] { false, true })
            {
                var prior = Random(m * n, 7);
                var c = s.Upload((float[])prior.Clone());
                s.Kernels.MatMul(layout, s.Upload(a), s.Upload(b), c, m, n, k, accumulate);
                float[] actual = DeviceScope.Download(c);
                for (int i = 0; i < expected.Length; i++)
                {
                    double want = expected[i] + (accumulate ? prior[i] : 0);
                    Assert.True(Math.Abs(actual[i] - want) <= 1e-5 * magnitude[i] + 1e-6,
                        $"{backend} {layout} {m}x{n}x{k} accumulate={accumulate}: c[{i}] = {actual[i]}, expected {want}");
                }
            }
        }
    }

    /// <summary>
    /// op(a)·op(b) [m, n] of the rounded inputs in double, and the same product of their magnitudes (the scale of the
    /// fp32 summation error). Rows in parallel over contiguous copies of op(a) [m, k] and op(b)ᵀ [n, k]: the model-sized
    /// cases take billions of multiply-adds, which a strided scalar loop needs minutes for.
    /// </summary>
    private static (double[] Product, double[] Magnitude) RoundedProduct(MatMulLayout layout, float[] a, float[] b, int m, int n,
        int k, Func<float, float> round)
    {
        var rows = new double[(long)m * k];
        var columns = new double[(long)n * k];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
                rows[(long)i * k + p] = round(layout == MatMulLayout.AtB ? a[(long)p * m + i] : a[(long)i * k + p]);
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++)
                columns[(long)j * k + p] = round(layout == MatMulLayout.ABt ? b[(long)j * k + p] : b[(long)p * n + j]);
        var product = new double[m * n];
        var magnitude = new double[m * n];
        Parallel.For(0, m, i =>
        {
            var row = rows.AsSpan(i * k, k);
            for (int j = 0; j < n; j++)
            {
                var column = columns.AsSpan(j * k, k);
                double sum = 0, absolute = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = row[p] * column[p];
                    sum += x;
                    absolute += Math.Abs(x);
                }
                product[i * n + j] = sum;
                magnitude[i * n + j] = absolute;
            }
        });
        return (product, magnitude);
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void MatMul_with_zero_k_clears_or_keeps_c(string backend)
    {
        using var s = new DeviceScope(backend);
        var prior = Random(6, 1);
        var c = s.Upload((float[])prior.Clone());
        s.Kernels.MatMul(MatMulLayout.ABt, s.Zeros(1), s.Zeros(1), c, 2, 3, 0, accumulate: true);
        Assert.Equal(prior, DeviceScope.Download(c));
        s.Kernels.MatMul(MatMulLayout.ABt, s.Zeros(1), s.Zeros(1), c, 2, 3, 0, accumulate: false);
        Assert.All(DeviceScope.Download(c), v => Assert.Equal(0f, v));
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Linear_forward_matches_reference_with_and_without_bias(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (rows, inC, outC) in new[] { (1, 1, 1), (7, 5, 3), (4, 17, 9) })
            foreach (bool withBias in new[] { true, false })
            {
                var x = Random(rows * inC, 1);
                var w = Random(outC * inC, 2);
                var b = Random(outC, 3);
                var y = s.Zeros(rows * outC);
                s.Kernels.LinearForward(s.Upload(x), s.Upload(w), withBias ? s.Upload(b) : null, y, rows, inC, outC);
                AssertClose(ReferenceLinear.Linear(D(x), D(w), withBias ? D(b) : null, rows, inC, outC),
                    DeviceScope.Download(y), 1e-4, $"Linear {rows}x{inC}->{outC} bias={withBias}");
            }
    }

    /// <summary>
    /// Linear then GELU in one call gives LinearForward then GeluForward's results bit for bit (on tensor cores, where the
    /// GEMM's epilogue and its split-K reduction apply the GELU), with the pre-activation kept or not.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    [MemberData(nameof(TestBackends.TensorCores), MemberType = typeof(TestBackends))]
    public void Linear_then_GELU_in_one_call_equals_the_two_ops(string backend)
    {
        using var s = new DeviceScope(backend);
        CheckLinearGelu(s, [(7, 5, 3), (130, 48, 136)]);
    }

    /// <summary>Shared by the conformance rows and the emulated tensor cores (<c>TensorCoreGemmTests</c>).</summary>
    internal static void CheckLinearGelu(DeviceScope s, (int Rows, int In, int Out)[] shapes)
    {
        foreach (var (rows, inC, outC) in shapes)
            foreach (bool withBias in new[] { true, false })
            {
                var (x, w, b) = (s.Upload(Random(rows * inC, 1, 2f)), s.Upload(Random(outC * inC, 2)), s.Upload(Random(outC, 3)));
                var bias = withBias ? b : (Tensor<float>?)null;
                var (product, activation) = (s.Zeros(rows * outC), s.Zeros(rows * outC));
                s.Kernels.LinearForward(x, w, bias, product, rows, inC, outC);
                s.Kernels.GeluForward(product, activation, rows * outC);
                var (fusedProduct, fusedActivation, alone) = (s.Zeros(rows * outC), s.Zeros(rows * outC), s.Zeros(rows * outC));
                s.Kernels.LinearGeluForward(x, w, bias, fusedProduct, fusedActivation, rows, inC, outC);
                s.Kernels.LinearGeluForward(x, w, bias, null, alone, rows, inC, outC);
                Assert.Equal(DeviceScope.Download(product), DeviceScope.Download(fusedProduct));
                Assert.Equal(DeviceScope.Download(activation), DeviceScope.Download(fusedActivation));
                Assert.Equal(DeviceScope.Download(activation), DeviceScope.Download(alone));
            }
    }

    /// <summary>
    /// The backward of a Linear after a GELU in one call gives LinearBackward then GeluBackward's results bit for bit (on
    /// tensor cores, where the input gradient's GEMM epilogue and its split-K reduction apply GELU'), overwriting the
    /// pre-activation gradient, accumulating the weight's and skipping null ones.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    [MemberData(nameof(TestBackends.TensorCores), MemberType = typeof(TestBackends))]
    public void GELU_then_Linear_backward_in_one_call_equals_the_two_ops(string backend)
    {
        using var s = new DeviceScope(backend);
        CheckGeluLinearBackward(s, [(7, 5, 3), (130, 136, 48)]);
    }

    /// <summary>Shared by the conformance rows and the emulated tensor cores (<c>TensorCoreGemmTests</c>).</summary>
    internal static void CheckGeluLinearBackward(DeviceScope s, (int Rows, int In, int Out)[] shapes)
    {
        foreach (var (rows, inC, outC) in shapes)
        {
            int hidden = rows * inC;
            var (dy, pre, w) = (s.Upload(Random(rows * outC, 1)), s.Upload(Random(hidden, 2, 3f)), s.Upload(Random(outC * inC, 3)));
            var activation = s.Zeros(hidden);
            s.Kernels.GeluForward(pre, activation, hidden);
            var (priorW, priorB) = (Random(outC * inC, 4), Random(outC, 5));

            var (dPre, dW, dB) = (s.Zeros(hidden), s.Upload(priorW), s.Upload(priorB));
            s.Kernels.LinearBackward(dy, activation, w, dPre, dW, dB, rows, inC, outC, accumulateInput: false);
            s.Kernels.GeluBackward(dPre, pre, dPre, hidden, accumulate: false);

            var (fusedPre, fusedW, fusedB) = (s.Upload(Random(hidden, 6)), s.Upload(priorW), s.Upload(priorB));
            s.Kernels.GeluLinearBackward(dy, activation, pre, w, fusedPre, fusedW, fusedB, rows, inC, outC);
            var alone = s.Upload(Random(hidden, 7));
            s.Kernels.GeluLinearBackward(dy, activation, pre, w, alone, null, null, rows, inC, outC);

            float[] expected = DeviceScope.Download(dPre);
            Assert.Equal(expected, DeviceScope.Download(fusedPre));
            Assert.Equal(expected, DeviceScope.Download(alone));
            Assert.Equal(DeviceScope.Download(dW), DeviceScope.Download(fusedW));
            Assert.Equal(DeviceScope.Download(dB), DeviceScope.Download(fusedB));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Linear_backward_accumulates_finite_difference_gradients(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 4, inC = 5, outC = 3;
        var x = Random(rows * inC, 1);
        var w = Random(outC * inC, 2);
        var b = Random(outC, 3);
        var dy = Random(rows * outC, 4);
        var (priorX, priorW, priorB) = (Random(rows * inC, 5), Random(outC * inC, 6), Random(outC, 7));
        var (dx, dw, db) = (s.Upload(priorX), s.Upload(priorW), s.Upload(priorB));
        s.Kernels.LinearBackward(s.Upload(dy), s.Upload(x), s.Upload(w), dx, dw, db, rows, inC, outC);

        var fdX = FiniteDifference(v => ReferenceLinear.Linear(v, D(w), D(b), rows, inC, outC), D(x), D(dy));
        var fdW = FiniteDifference(v => ReferenceLinear.Linear(D(x), v, D(b), rows, inC, outC), D(w), D(dy));
        var fdB = FiniteDifference(v => ReferenceLinear.Linear(D(x), D(w), v, rows, inC, outC), D(b), D(dy));
        AssertClose(Add(D(priorX), fdX), DeviceScope.Download(dx), 1e-4, "dInput");
        AssertClose(Add(D(priorW), fdW), DeviceScope.Download(dw), 1e-4, "dWeight");
        AssertClose(Add(D(priorB), fdB), DeviceScope.Download(db), 1e-4, "dBias");
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Linear_backward_skips_null_gradients(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 3, inC = 2, outC = 4;
        var (x, w, dy) = (Random(rows * inC, 1), Random(outC * inC, 2), Random(rows * outC, 3));
        var dw = s.Zeros(outC * inC);
        s.Kernels.LinearBackward(s.Upload(dy), s.Upload(x), s.Upload(w), null, dw, null, rows, inC, outC);
        AssertClose(ReferenceLinear.LinearBackward(D(dy), D(x), D(w), rows, inC, outC).DWeight, DeviceScope.Download(dw), 1e-4, "dWeight");
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Linear_backward_matches_reference_on_model_like_shapes(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 67, inC = 96, outC = 130;
        var (x, w, dy) = (Random(rows * inC, 1), Random(outC * inC, 2), Random(rows * outC, 3));
        var (dx, dw, db) = (s.Zeros(rows * inC), s.Zeros(outC * inC), s.Zeros(outC));
        s.Kernels.LinearBackward(s.Upload(dy), s.Upload(x), s.Upload(w), dx, dw, db, rows, inC, outC);
        var expected = ReferenceLinear.LinearBackward(D(dy), D(x), D(w), rows, inC, outC);
        AssertClose(expected.DInput, DeviceScope.Download(dx), 1e-4, "dInput");
        AssertClose(expected.DWeight, DeviceScope.Download(dw), 1e-4, "dWeight");
        AssertClose(expected.DBias, DeviceScope.Download(db), 1e-4, "dBias");
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void MatMul_rejects_tensors_too_small_for_the_sizes(string backend)
    {
        using var s = new DeviceScope(backend);
        var ex = Assert.Throws<ArgumentException>(() =>
            s.Kernels.MatMul(MatMulLayout.AB, s.Zeros(5), s.Zeros(6), s.Zeros(4), 2, 2, 3, accumulate: false));
        Assert.Contains("'a' has 5 elements", ex.Message);
    }

    private static void CheckMatMul(string backend, (int M, int N, int K)[] shapes)
    {
        using var s = new DeviceScope(backend);
        foreach (var layout in Enum.GetValues<MatMulLayout>())
            foreach (var (m, n, k) in shapes)
                foreach (bool accumulate in new[] { false, true })
                {
                    var a = Random(m * k, m + 31 * k);
                    var b = Random(k * n, n + 17 * k);
                    var prior = Random(m * n, 5);
                    var c = s.Upload((float[])prior.Clone());
                    s.Kernels.MatMul(layout, s.Upload(a), s.Upload(b), c, m, n, k, accumulate);
                    var expected = ReferenceLinear.MatMul(layout, D(a), D(b), m, n, k);
                    if (accumulate) expected = Add(expected, D(prior));
                    AssertClose(expected, DeviceScope.Download(c), 1e-4, $"{layout} {m}x{n}x{k} accumulate={accumulate}");
                }
    }
}
