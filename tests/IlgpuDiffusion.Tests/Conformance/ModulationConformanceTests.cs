using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>adaLN modulation and the gated residual, forward and backward (token reductions included).</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ModulationConformanceTests
{
    // (2, 9, 5): more tokens than the emulated GPU's column chunk (4), so the token sums add partials of several chunks.
    private static readonly (int B, int T, int C)[] Small = [(1, 1, 1), (2, 3, 5), (3, 2, 17), (2, 9, 5)];
    private static readonly (int B, int T, int C)[] Large = [(2, 129, 768), (1, 7, 130)];

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Modulate_forward_and_backward_match_finite_differences(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (b, t, c) in Small)
        {
            var (x, shift, scale, dy) = (Random(b * t * c, 1), Random(b * c, 2), Random(b * c, 3), Random(b * t * c, 4));
            var (priorX, priorShift, priorScale) = (Random(b * t * c, 5), Random(b * c, 6), Random(b * c, 7));
            var y = s.Zeros(b * t * c);
            var (xT, scaleT) = (s.Upload(x), s.Upload(scale));
            var (dx, dShift, dScale) = (s.Upload(priorX), s.Upload(priorShift), s.Upload(priorScale));
            s.Kernels.ModulateForward(xT, s.Upload(shift), scaleT, y, b, t, c);
            s.Kernels.ModulateBackward(s.Upload(dy), xT, scaleT, dx, dShift, dScale, b, t, c);
            AssertClose(ReferenceNormalization.Modulate(D(x), D(shift), D(scale), b, t, c), DeviceScope.Download(y), 1e-5, "output");
            Func<double[], double[], double[], double[]> f = (xv, sh, sc) => ReferenceNormalization.Modulate(xv, sh, sc, b, t, c);
            AssertClose(Add(D(priorX), FiniteDifference(v => f(v, D(shift), D(scale)), D(x), D(dy))), DeviceScope.Download(dx),
                1e-4, "dInput");
            AssertClose(Add(D(priorShift), FiniteDifference(v => f(D(x), v, D(scale)), D(shift), D(dy))), DeviceScope.Download(dShift),
                1e-4, "dShift");
            AssertClose(Add(D(priorScale), FiniteDifference(v => f(D(x), D(shift), v), D(scale), D(dy))), DeviceScope.Download(dScale),
                1e-4, "dScale");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gated_residual_forward_and_backward_match_finite_differences(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (b, t, c) in Small)
        {
            var (res, branch, gate, dy) = (Random(b * t * c, 1), Random(b * t * c, 2), Random(b * c, 3), Random(b * t * c, 4));
            var (priorBranch, priorGate) = (Random(b * t * c, 5), Random(b * c, 6));
            var y = s.Zeros(b * t * c);
            var (branchT, gateT) = (s.Upload(branch), s.Upload(gate));
            var (dBranch, dGate) = (s.Upload(priorBranch), s.Upload(priorGate));
            s.Kernels.GatedResidualForward(s.Upload(res), branchT, gateT, y, b, t, c);
            s.Kernels.GatedResidualBackward(s.Upload(dy), branchT, gateT, dBranch, dGate, b, t, c);
            AssertClose(ReferenceNormalization.GatedResidual(D(res), D(branch), D(gate), b, t, c), DeviceScope.Download(y), 1e-5, "output");
            Func<double[], double[], double[]> f = (br, g) => ReferenceNormalization.GatedResidual(D(res), br, g, b, t, c);
            AssertClose(Add(D(priorBranch), FiniteDifference(v => f(v, D(gate)), D(branch), D(dy))), DeviceScope.Download(dBranch),
                1e-4, "dBranch");
            AssertClose(Add(D(priorGate), FiniteDifference(v => f(D(branch), v), D(gate), D(dy))), DeviceScope.Download(dGate),
                1e-4, "dGate");
        }
    }

    /// <summary>
    /// With a dropout mask, the gated residual drops its branch in place and its backward returns the gradient before the
    /// dropout, bit for bit as DropoutForward then GatedResidualForward, and GatedResidualBackward then DropoutBackward (both
    /// writing and adding) give them.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gated_residual_with_dropout_equals_the_dropout_then_the_residual(string backend)
    {
        using var s = new DeviceScope(backend);
        var mask = new DropoutMask(0.3f, Seed: 7, Stream: 11);
        foreach (var (b, t, c) in new[] { (2, 9, 5), (1, 3, 300) })
        {
            int n = b * t * c;
            var (res, branch, gate, dy, prior) = (Random(n, 1), Random(n, 2), Random(b * c, 3), Random(n, 4), Random(n, 5));
            var (gateT, dyT) = (s.Upload(gate), s.Upload(dy));
            var (twoOpsBranch, twoOpsOutput) = (s.Upload(branch), s.Zeros(n));
            s.Kernels.DropoutForward(twoOpsBranch, twoOpsBranch, n, mask.Probability, mask.Seed, mask.Stream);
            s.Kernels.GatedResidualForward(s.Upload(res), twoOpsBranch, gateT, twoOpsOutput, b, t, c);
            var (fusedBranch, fusedOutput) = (s.Upload(branch), s.Zeros(n));
            s.Kernels.GatedResidualForward(s.Upload(res), fusedBranch, gateT, fusedOutput, b, t, c, mask);
            Assert.Equal(DeviceScope.Download(twoOpsBranch), DeviceScope.Download(fusedBranch));
            Assert.Equal(DeviceScope.Download(twoOpsOutput), DeviceScope.Download(fusedOutput));

            foreach (bool accumulate in new[] { false, true, true }) // twice: a scratch reused must not carry over
            {
                var (gated, twoOpsGradient, twoOpsGate) = (s.Zeros(n), s.Upload(prior), s.Upload(gate));
                s.Kernels.GatedResidualBackward(dyT, fusedBranch, gateT, gated, twoOpsGate, b, t, c, accumulate: accumulate);
                s.Kernels.DropoutBackward(gated, twoOpsGradient, n, mask.Probability, mask.Seed, mask.Stream, accumulate);
                var (fusedGradient, fusedGate) = (s.Upload(prior), s.Upload(gate));
                s.Kernels.GatedResidualBackward(dyT, fusedBranch, gateT, fusedGradient, fusedGate, b, t, c, accumulate, mask);
                Assert.Equal(DeviceScope.Download(twoOpsGradient), DeviceScope.Download(fusedGradient));
                Assert.Equal(DeviceScope.Download(twoOpsGate), DeviceScope.Download(fusedGate));
            }
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gated_residual_may_write_into_the_residual(string backend)
    {
        using var s = new DeviceScope(backend);
        var (res, branch, gate) = (Random(12, 1), Random(12, 2), Random(4, 3));
        var resT = s.Upload(res);
        s.Kernels.GatedResidualForward(resT, s.Upload(branch), s.Upload(gate), resT, 1, 3, 4);
        AssertClose(ReferenceNormalization.GatedResidual(D(res), D(branch), D(gate), 1, 3, 4), DeviceScope.Download(resT),
            1e-6, "in place");
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void Backward_reductions_match_reference_on_model_shapes(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (b, t, c) in Large)
        {
            var (x, scale, gate, dy) = (Random(b * t * c, 1), Random(b * c, 2), Random(b * c, 3), Random(b * t * c, 4));
            var (dx, dShift, dScale, dBranch, dGate) = (s.Zeros(b * t * c), s.Zeros(b * c), s.Zeros(b * c), s.Zeros(b * t * c),
                s.Zeros(b * c));
            var (xT, dyT) = (s.Upload(x), s.Upload(dy));
            s.Kernels.ModulateBackward(dyT, xT, s.Upload(scale), dx, dShift, dScale, b, t, c);
            s.Kernels.GatedResidualBackward(dyT, xT, s.Upload(gate), dBranch, dGate, b, t, c);
            var mod = ReferenceNormalization.ModulateBackward(D(dy), D(x), D(scale), b, t, c);
            var gated = ReferenceNormalization.GatedResidualBackward(D(dy), D(x), D(gate), b, t, c);
            AssertClose(mod.DInput, DeviceScope.Download(dx), 1e-5, "dInput");
            AssertClose(mod.DShift, DeviceScope.Download(dShift), 1e-4, "dShift");
            AssertClose(mod.DScale, DeviceScope.Download(dScale), 1e-4, "dScale");
            AssertClose(gated.DBranch, DeviceScope.Download(dBranch), 1e-5, "dBranch");
            AssertClose(gated.DGate, DeviceScope.Download(dGate), 1e-4, "dGate");
        }
    }
}
