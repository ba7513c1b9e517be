using IlgpuDiffusion.Compute;
using Xunit;

namespace IlgpuDiffusion.Tests.Cpu;

/// <summary>After warm-up, a call of a CPU kernel allocates nothing on the calling thread (training steps must not allocate).</summary>
public sealed class CpuAllocationTests
{
    [Fact]
    public void Op_set_one_allocates_nothing_after_warm_up()
    {
        using var device = Device.Create("cpu");
        var k = device.Kernels;
        const int b = 2, t = 64, c = 96, n = b * t * c;
        Tensor<float> T(int length) => device.AllocateTensor<float>(new Shape(length));
        var (x, y, dx, w, dw, db, big) = (T(n), T(n), T(n), T(c * c), T(c * c), T(c), T(3 * c));
        var (mean, rstd, vec, dVec, dVec2, scalar) = (T(b * t), T(b * t), T(b * c), T(b * c), T(b * c), T(1));
        var ids = device.AllocateTensor<int>(new Shape(b * t));
        var hyper = new AdamWParameters(1e-3f);
        k.Fill(x, 0.5f, n);
        void Step()
        {
            k.LinearForward(x, w, db, y, b * t, c, c);
            k.LinearBackward(y, x, w, dx, dw, db, b * t, c, c);
            k.MatMul(MatMulLayout.AtB, x, y, dw, c, c, b * t, accumulate: true);
            k.EmbeddingForward(ids, w, y, b * t, c, c);
            k.EmbeddingBackward(ids, y, dw, b * t, c, c);
            k.LayerNormForward(x, db, y, mean, rstd, b * t, c, 1e-5f);
            k.LayerNormBackward(y, x, db, mean, rstd, dx, big, b * t, c);
            k.ModulateForward(x, vec, vec, y, b, t, c);
            k.ModulateBackward(y, x, vec, dx, dVec, dVec2, b, t, c);
            k.GatedResidualForward(x, y, vec, y, b, t, c);
            k.GatedResidualBackward(y, x, vec, dx, dVec, b, t, c);
            k.GeluForward(x, y, n);
            k.GeluBackward(y, x, dx, n);
            k.SiluForward(x, y, n);
            k.SiluBackward(y, x, dx, n);
            k.DropoutForward(x, y, n, 0.1f, 1, 2);
            k.DropoutBackward(y, dx, n, 0.1f, 1, 2);
            k.AdamWStep(w, dw, big, mean, t, hyper, 1, 1f); // moment values are irrelevant here
            k.SumOfSquares(dw, scalar, c * c);
            k.EmaUpdate(w, dw, c * c, 0.99f);
            k.Copy(x, y, n);
        }
        SteadyStateAllocation.AssertNone(Step, measured: 16); // 21 ops hand work to the worker pool: more chances of a zero
    }
}
