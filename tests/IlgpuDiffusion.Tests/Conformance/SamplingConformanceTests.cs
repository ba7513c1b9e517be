using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>Categorical draws: the same ids on every backend, the right frequencies, MASK never drawn; argmax.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class SamplingConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Draws_equal_the_reference_race_for_a_fixed_seed(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 6, classes = 9, vocab = 8;
        var logits = Random(rows * classes, 3, 2f);
        var ids = s.Upload(new int[rows]);
        foreach (var p in new[] { new SamplingParameters(42, 0), new SamplingParameters(42, 1, 0.7f),
            new SamplingParameters(7, 3, 1.3f, 0.8f) })
        {
            s.Kernels.SampleCategorical(s.Upload(logits), ids, rows, classes, vocab, p);
            var expected = Enumerable.Range(0, rows).Select(r => ReferenceLosses.Sample(D(logits)[(r * classes)..((r + 1) * classes)],
                r, vocab, p));
            Assert.Equal(expected, ids.ToArray());
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Frequencies_follow_the_softmax_and_mask_is_never_drawn(string backend)
    {
        using var s = new DeviceScope(backend);
        int rows = backend == "ilgpu-cpu" ? 3000 : 60_000;
        const int vocab = 6, classes = 7;
        float[] row = [0.5f, -1f, 1.2f, 0f, -0.3f, 0.9f, 30f]; // MASK (index 6) has by far the largest logit
        var logits = Enumerable.Range(0, rows).SelectMany(_ => row).ToArray();
        var ids = s.Upload(new int[rows]);
        s.Kernels.SampleCategorical(s.Upload(logits), ids, rows, classes, vocab, new SamplingParameters(2024, 5));
        var counts = new double[vocab];
        foreach (int id in ids.ToArray())
        {
            Assert.InRange(id, 0, vocab - 1);
            counts[id]++;
        }
        double z = row[..vocab].Sum(v => Math.Exp(v));
        double chiSquare = counts.Select((c, v) => Math.Pow(c - rows * Math.Exp(row[v]) / z, 2) / (rows * Math.Exp(row[v]) / z)).Sum();
        Assert.True(chiSquare < 20.52, $"χ² = {chiSquare:F2} with 5 degrees of freedom (p < 0.001)"); // critical value at 0.001
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Nucleus_keeps_only_the_smallest_set_holding_top_p(string backend)
    {
        using var s = new DeviceScope(backend);
        int rows = backend == "ilgpu-cpu" ? 2000 : 20_000;
        float[] row = [MathF.Log(0.5f), MathF.Log(0.15f), MathF.Log(0.3f), MathF.Log(0.05f)];
        var ids = s.Upload(new int[rows]);
        s.Kernels.SampleCategorical(s.Upload(Enumerable.Range(0, rows).SelectMany(_ => row).ToArray()), ids, rows, 4, 4,
            new SamplingParameters(9, 0, TopP: 0.7f));
        var drawn = ids.ToArray();
        Assert.All(drawn, id => Assert.Contains(id, new[] { 0, 2 }));
        double share = drawn.Count(id => id == 0) / (double)rows;
        double sigma = Math.Sqrt(0.625 * 0.375 / rows);
        Assert.InRange(share, 0.625 - 5 * sigma, 0.625 + 5 * sigma); // 0.5 / (0.5 + 0.3)
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Argmax_ignores_entries_past_vocab_and_breaks_ties_low(string backend)
    {
        using var s = new DeviceScope(backend);
        float[] logits = [0f, 2f, 2f, 1f, 9f, /* row 2 */ -3f, -1f, -2f, -1.5f, 9f, /* row 3 */ 5f, 4f, 3f, 2f, 1f];
        var ids = s.Upload(new int[3]);
        s.Kernels.Argmax(s.Upload(logits), ids, 3, 5, 4);
        Assert.Equal([1, 1, 0], ids.ToArray());
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Invalid_sampling_parameters_are_rejected(string backend)
    {
        using var s = new DeviceScope(backend);
        var (logits, ids) = (s.Zeros(4), s.Upload(new int[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.SampleCategorical(logits, ids, 1, 4, 4,
            new SamplingParameters(1, 0, 0f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.SampleCategorical(logits, ids, 1, 4, 4,
            new SamplingParameters(1, 0, 1f, 1.5f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.SampleCategorical(logits, ids, 1, 4, 5, new SamplingParameters(1, 0)));
    }

    [Fact]
    public void Double_uniforms_cover_the_unit_interval_evenly()
    {
        var values = Enumerable.Range(0, 100_000).Select(i => Philox.UniformDouble(3, 4, i)).ToArray();
        Assert.All(values, u => Assert.InRange(u, 0.0, 1.0 - 1e-17));
        Assert.InRange(values.Average(), 0.5 - 0.005, 0.5 + 0.005);
        Assert.Equal(values.Length, values.Distinct().Count());
    }
}
