using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>The oracle's analytic backward passes agree with finite differences of its forward passes (all in double).</summary>
public sealed class ReferenceGradientTests
{
    [Fact]
    public void Linear_backward_is_the_gradient_of_linear()
    {
        const int rows = 3, inC = 4, outC = 2;
        var (x, w, b, dy) = (D(Random(rows * inC, 1)), D(Random(outC * inC, 2)), D(Random(outC, 3)), D(Random(rows * outC, 4)));
        var g = ReferenceLinear.LinearBackward(dy, x, w, rows, inC, outC);
        AssertNear(FiniteDifference(v => ReferenceLinear.Linear(v, w, b, rows, inC, outC), x, dy), g.DInput);
        AssertNear(FiniteDifference(v => ReferenceLinear.Linear(x, v, b, rows, inC, outC), w, dy), g.DWeight);
        AssertNear(FiniteDifference(v => ReferenceLinear.Linear(x, w, v, rows, inC, outC), b, dy), g.DBias);
    }

    [Fact]
    public void LayerNorm_backward_is_the_gradient_of_layernorm()
    {
        const int rows = 3, channels = 6;
        var (x, w, dy) = (D(Random(rows * channels, 1)), D(Random(channels, 2)), D(Random(rows * channels, 3)));
        var g = ReferenceNormalization.LayerNormBackward(dy, x, w, rows, channels, 1e-5);
        AssertNear(FiniteDifference(v => ReferenceNormalization.LayerNorm(v, w, rows, channels, 1e-5).Output, x, dy), g.DInput);
        AssertNear(FiniteDifference(v => ReferenceNormalization.LayerNorm(x, v, rows, channels, 1e-5).Output, w, dy), g.DWeight);
    }

    [Fact]
    public void Modulation_and_gate_backward_are_their_gradients()
    {
        const int b = 2, t = 3, c = 4;
        var (x, shift, scale, gate, dy) = (D(Random(b * t * c, 1)), D(Random(b * c, 2)), D(Random(b * c, 3)), D(Random(b * c, 4)),
            D(Random(b * t * c, 5)));
        var m = ReferenceNormalization.ModulateBackward(dy, x, scale, b, t, c);
        AssertNear(FiniteDifference(v => ReferenceNormalization.Modulate(v, shift, scale, b, t, c), x, dy), m.DInput);
        AssertNear(FiniteDifference(v => ReferenceNormalization.Modulate(x, v, scale, b, t, c), shift, dy), m.DShift);
        AssertNear(FiniteDifference(v => ReferenceNormalization.Modulate(x, shift, v, b, t, c), scale, dy), m.DScale);
        var r = ReferenceNormalization.GatedResidualBackward(dy, x, gate, b, t, c);
        AssertNear(FiniteDifference(v => ReferenceNormalization.GatedResidual(x, v, gate, b, t, c), x, dy), r.DBranch);
        AssertNear(FiniteDifference(v => ReferenceNormalization.GatedResidual(x, x, v, b, t, c), gate, dy), r.DGate);
    }

    [Fact]
    public void MatMul_layouts_are_transposes_of_each_other()
    {
        const int m = 3, n = 4, k = 5;
        var a = D(Random(m * k, 1));
        var bt = D(Random(n * k, 2));
        var aT = Transpose(a, m, k);
        var b = Transpose(bt, n, k);
        var expected = ReferenceLinear.MatMul(MatMulLayout.ABt, a, bt, m, n, k);
        AssertNear(expected, ReferenceLinear.MatMul(MatMulLayout.AB, a, b, m, n, k));
        AssertNear(expected, ReferenceLinear.MatMul(MatMulLayout.AtB, aT, b, m, n, k));
        Assert.Equal(
            a[1 * k + 2] * bt[3 * k + 2] + a[1 * k] * bt[3 * k] + a[1 * k + 1] * bt[3 * k + 1] + a[1 * k + 3] * bt[3 * k + 3]
                + a[1 * k + 4] * bt[3 * k + 4],
            expected[1 * n + 3], 12);
    }

    private static double[] Transpose(double[] x, int rows, int columns)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) y[c * rows + r] = x[r * columns + c];
        return y;
    }

    private static void AssertNear(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-7);
    }
}
