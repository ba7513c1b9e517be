using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>GELU (tanh approximation) and SiLU, forward and backward.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ActivationConformanceTests
{
    public static IEnumerable<object[]> Cases =>
        from row in TestBackends.All
        from kind in new[] { "gelu", "silu" }
        select new[] { row[0], kind };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Forward_and_backward_match_reference(string backend, string kind)
    {
        using var s = new DeviceScope(backend);
        int[] counts = backend == "ilgpu-cpu" ? [1, 7, 33] : [1, 7, 33, 1029, 70001];
        foreach (int n in counts)
        {
            // Values up to ±12 reach the saturated tails of tanh and the sigmoid.
            var x = Random(n, n, 12f);
            var dy = Random(n, n + 1);
            var prior = Random(n, n + 2);
            var (xT, y, dx) = (s.Upload(x), s.Zeros(n), s.Upload(prior));
            Func<double, double> f = kind == "gelu" ? ReferenceElementwise.Gelu : ReferenceElementwise.Silu;
            Func<double, double> df = kind == "gelu" ? ReferenceElementwise.GeluDerivative : ReferenceElementwise.SiluDerivative;
            Forward(s.Kernels, kind, xT, y, n);
            Backward(s.Kernels, kind, s.Upload(dy), xT, dx, n);
            AssertClose(D(x).Select(f).ToArray(), DeviceScope.Download(y), 1e-4, $"{kind} forward n={n}");
            var expected = D(x).Select((v, i) => prior[i] + dy[i] * df(v)).ToArray();
            AssertClose(expected, DeviceScope.Download(dx), TestBackends.TranscendentalTolerance(backend, 1e-4), $"{kind} backward n={n}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Forward_may_run_in_place(string backend, string kind)
    {
        using var s = new DeviceScope(backend);
        var x = Random(19, 3, 4f);
        var xT = s.Upload(x);
        Forward(s.Kernels, kind, xT, xT, x.Length);
        Func<double, double> f = kind == "gelu" ? ReferenceElementwise.Gelu : ReferenceElementwise.Silu;
        AssertClose(D(x).Select(f).ToArray(), DeviceScope.Download(xT), 1e-4, $"{kind} in place");
    }

    [Fact]
    public void Reference_derivatives_match_finite_differences()
    {
        var x = D(Random(64, 9, 6f));
        var ones = Enumerable.Repeat(1.0, 1).ToArray();
        foreach (var (f, df) in new (Func<double, double>, Func<double, double>)[]
                 { (ReferenceElementwise.Gelu, ReferenceElementwise.GeluDerivative),
                     (ReferenceElementwise.Silu, ReferenceElementwise.SiluDerivative) })
            foreach (double v in x)
                Assert.Equal(FiniteDifference(p => [f(p[0])], [v], ones)[0], df(v), 1e-7);
    }

    private static void Forward(IKernels k, string kind, Tensor<float> x, Tensor<float> y, int n)
    {
        if (kind == "gelu") k.GeluForward(x, y, n);
        else k.SiluForward(x, y, n);
    }

    private static void Backward(IKernels k, string kind, Tensor<float> dy, Tensor<float> x, Tensor<float> dx, int n)
    {
        if (kind == "gelu") k.GeluBackward(dy, x, dx, n);
        else k.SiluBackward(dy, x, dx, n);
    }
}
