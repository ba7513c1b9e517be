using IlgpuDiffusion.Compute;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>
/// Backward ops asked not to accumulate write their gradients without reading the target: run over NaN they give
/// exactly what the accumulating path adds to zeros (which the other conformance tests check against references). Shapes
/// cross the ILGPU column reductions' token chunks; on the GPU rows the attention heads are 64 wide, so tensor-core
/// attention takes part under tf32 and bf16.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class WriteFirstConformanceTests
{
    public static IEnumerable<object[]> Backends => TestBackends.All.Concat(TestBackends.TensorCores);

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public void Elementwise_backwards_write_over_their_gradient(string backend)
    {
        using var s = new DeviceScope(backend);
        int n = backend == "ilgpu-cpu" ? 37 : 1029;
        var (x, dy) = (s.Upload(Random(n, 1, 6f)), s.Upload(Random(n, 2)));
        AssertWritesOver(s, [n], (accumulate, g) => s.Kernels.GeluBackward(dy, x, g[0], n, accumulate), "GeluBackward");
        AssertWritesOver(s, [n], (accumulate, g) => s.Kernels.SiluBackward(dy, x, g[0], n, accumulate), "SiluBackward");
        AssertWritesOver(s, [n], (accumulate, g) => s.Kernels.DropoutBackward(dy, g[0], n, 0.3f, seed: 5, stream: 2, accumulate),
            "DropoutBackward");
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public void Modulation_backwards_write_over_their_gradients(string backend)
    {
        using var s = new DeviceScope(backend);
        var (b, t, c) = backend == "ilgpu-cpu" ? (2, 9, 5) : (2, 300, 40);
        var (x, dy, vector) = (s.Upload(Random(b * t * c, 1)), s.Upload(Random(b * t * c, 2)), s.Upload(Random(b * c, 3)));
        AssertWritesOver(s, [b * t * c, b * c, b * c],
            (accumulate, g) => s.Kernels.ModulateBackward(dy, x, vector, g[0], g[1], g[2], b, t, c, accumulate), "ModulateBackward");
        AssertWritesOver(s, [b * t * c, b * c],
            (accumulate, g) => s.Kernels.GatedResidualBackward(dy, x, vector, g[0], g[1], b, t, c, accumulate), "GatedResidualBackward");
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public void Attention_backward_writes_over_its_gradient(string backend)
    {
        using var s = new DeviceScope(backend);
        var (b, t, h, d) = backend == "ilgpu-cpu" ? (1, 9, 2, 8) : (2, 70, 2, 64);
        var qkv = s.Upload(Random(b * t * 3 * h * d, 1, 2f));
        var (output, lse, dy) = (s.Zeros(b * t * h * d), s.Zeros(b * h * t), s.Upload(Random(b * t * h * d, 2)));
        foreach (bool causal in new[] { false, true })
        {
            s.Kernels.AttentionForward(qkv, output, lse, b, t, h, d, causal);
            AssertWritesOver(s, [b * t * 3 * h * d],
                (accumulate, g) => s.Kernels.AttentionBackward(dy, qkv, output, lse, g[0], b, t, h, d, causal, accumulate),
                $"AttentionBackward causal={causal}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public void Linear_backward_writes_over_its_input_gradient_and_adds_the_weights(string backend)
    {
        using var s = new DeviceScope(backend);
        var (rows, inputs, outputs) = backend == "ilgpu-cpu" ? (7, 5, 6) : (300, 96, 160);
        var (dy, x, w) = (s.Upload(Random(rows * outputs, 1)), s.Upload(Random(rows * inputs, 2)), s.Upload(Random(outputs * inputs, 3)));
        var priorWeight = Random(outputs * inputs, 4);
        var priorBias = Random(outputs, 5);
        var dWeights = new[] { s.Upload(priorWeight), s.Upload(priorWeight) };
        var dBiases = new[] { s.Upload(priorBias), s.Upload(priorBias) };
        int call = 0;
        AssertWritesOver(s, [rows * inputs], (accumulate, g) =>
        {
            s.Kernels.LinearBackward(dy, x, w, g[0], dWeights[call], dBiases[call], rows, inputs, outputs, accumulate);
            call++;
        }, "LinearBackward dInput");
        Assert.Equal(DeviceScope.Download(dWeights[0]), DeviceScope.Download(dWeights[1]));
        Assert.Equal(DeviceScope.Download(dBiases[0]), DeviceScope.Download(dBiases[1]));
        Assert.NotEqual(priorWeight, DeviceScope.Download(dWeights[1]));
    }

    /// <summary>
    /// Runs <paramref name="op"/> adding into zeroed gradients, then writing over NaN-filled ones, and asserts the two agree
    /// exactly (a NaN left or read means the op touched what it was told to overwrite).
    /// </summary>
    private static void AssertWritesOver(DeviceScope s, int[] lengths, Action<bool, Tensor<float>[]> op, string what)
    {
        var added = lengths.Select(s.Zeros).ToArray();
        var written = lengths.Select(n => s.Upload(Enumerable.Repeat(float.NaN, n).ToArray())).ToArray();
        op(true, added);
        op(false, written);
        for (int i = 0; i < lengths.Length; i++)
        {
            var expected = DeviceScope.Download(added[i]);
            Assert.DoesNotContain(expected, float.IsNaN);
            Assert.True(expected.SequenceEqual(DeviceScope.Download(written[i])), $"{what}: output {i} differs when written over.");
        }
    }
}
