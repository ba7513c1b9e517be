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
    public void Draws_equal_the_reference_for_a_fixed_seed(string backend)
    {
        using var s = new DeviceScope(backend);
        const int rows = 6, classes = 9, vocab = 8;
        var logits = Random(rows * classes, 3, 2f);
        var ids = s.Upload(new int[rows]);
        SamplingParameters[] settings = [new(42, 0), new(42, 1, 0.7f), new(7, 3, 1.3f, 0.8f), new(42, 0, FirstRow: 40)];
        foreach (var p in settings.SelectMany(p => new[] { p, p with { Draw = CategoricalDraw.ExponentialRace } }))
        {
            s.Kernels.SampleCategorical(s.Upload(logits), ids, rows, classes, vocab, p);
            var expected = Enumerable.Range(0, rows).Select(r => ReferenceLosses.Sample(D(logits)[(r * classes)..((r + 1) * classes)],
                r, vocab, p));
            Assert.Equal(expected, ids.ToArray());
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Draws))]
    public void Rows_drawn_in_chunks_from_their_first_row_equal_one_draw_over_all_rows(string backend, CategoricalDraw draw)
    {
        using var s = new DeviceScope(backend);
        const int rows = 7, classes = 9, vocab = 8;
        float[] logits = Random(rows * classes, 5, 2f);
        var all = s.Upload(new int[rows]);
        var p = new SamplingParameters(13, 2, Draw: draw);
        s.Kernels.SampleCategorical(s.Upload(logits), all, rows, classes, vocab, p);
        var chunked = new List<int>();
        foreach (var (first, count) in new[] { (0, 3), (3, 1), (4, 3) })
        {
            var ids = s.Upload(new int[count]);
            s.Kernels.SampleCategorical(s.Upload(logits[(first * classes)..((first + count) * classes)]), ids, count, classes, vocab,
                p with { FirstRow = first });
            chunked.AddRange(ids.ToArray());
        }
        Assert.Equal(all.ToArray(), chunked);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.SampleCategorical(s.Upload(logits), all, rows, classes, vocab,
            p with { FirstRow = -1 }));
    }

    /// <summary>Every backend with each draw method.</summary>
    public static IEnumerable<object[]> Draws => TestBackends.All.SelectMany(row =>
        Enum.GetValues<CategoricalDraw>().Select(draw => new object[] { row[0], draw }));

    [SkippableTheory]
    [MemberData(nameof(Draws))]
    public void Frequencies_follow_the_softmax_and_mask_is_never_drawn(string backend, CategoricalDraw draw)
    {
        using var s = new DeviceScope(backend);
        int rows = backend == "ilgpu-cpu" ? 3000 : 60_000;
        const int vocab = 6, classes = 7;
        float[] row = [0.5f, -1f, 1.2f, 0f, -0.3f, 0.9f, 30f]; // MASK (index 6) has by far the largest logit
        var logits = Enumerable.Range(0, rows).SelectMany(_ => row).ToArray();
        var ids = s.Upload(new int[rows]);
        s.Kernels.SampleCategorical(s.Upload(logits), ids, rows, classes, vocab, new SamplingParameters(2024, 5, Draw: draw));
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
    [MemberData(nameof(Draws))]
    public void Skewed_and_flat_rows_at_any_temperature_and_nucleus_follow_their_distribution(string backend, CategoricalDraw draw)
    {
        using var s = new DeviceScope(backend);
        int rows = backend == "ilgpu-cpu" ? 500 : 100_000;
        const int vocab = 40, classes = 41;
        float[] skewed = [.. Enumerable.Range(0, vocab).Select(v => -0.35f * v), 50f]; // p ∝ e^(−0.35 v); MASK largest
        float[] flat = [.. Enumerable.Repeat(0.25f, vocab), 50f];
        var cases = new (string Name, float[] Row, float Temperature, float TopP)[]
        {
            ("skewed", skewed, 1f, 1f), ("flat", flat, 1f, 1f), ("skewed, T 0.5", skewed, 0.5f, 1f),
            ("skewed, T 2", skewed, 2f, 1f), ("skewed, top-p 0.8", skewed, 1f, 0.8f), ("skewed, T 1.5, top-p 0.6", skewed, 1.5f, 0.6f),
        };
        var ids = s.Upload(new int[rows]);
        foreach (var (name, row, temperature, topP) in cases)
        {
            s.Kernels.SampleCategorical(s.Upload(Enumerable.Range(0, rows).SelectMany(_ => row).ToArray()), ids, rows, classes, vocab,
                new SamplingParameters(77, 1, temperature, topP, draw));
            double[] scaled = [.. row[..vocab].Select(v => (double)v / temperature)];
            double threshold = ReferenceLosses.NucleusThreshold(scaled, topP), max = scaled.Max();
            double[] weight = [.. scaled.Select(v => v < threshold ? 0 : Math.Exp(v - max))];
            AssertFollows(name, ids.ToArray(), weight);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Draws))]
    public void Rows_wider_than_the_search_blocks_follow_their_distribution(string backend, CategoricalDraw draw)
    {
        using var s = new DeviceScope(backend);
        int rows = backend == "ilgpu-cpu" ? 300 : 12_000;
        const int vocab = 1300, classes = 1301; // several of the CPU inverse CDF's 512-entry search blocks, a partial one last
        float[] row = [.. Enumerable.Range(0, vocab).Select(v => -0.003f * v + (v % 97 == 0 ? 2f : 0f)), 50f];
        var ids = s.Upload(new int[rows]);
        s.Kernels.SampleCategorical(s.Upload(Enumerable.Range(0, rows).SelectMany(_ => row).ToArray()), ids, rows, classes, vocab,
            new SamplingParameters(78, 2, Draw: draw));
        double max = row[..vocab].Max();
        AssertFollows("wide", ids.ToArray(), [.. row[..vocab].Select(v => Math.Exp(v - (double)max))]);
    }

    /// <summary>Pearson's χ² of <paramref name="drawn"/> against weights ∝ the probabilities, ids expected under 5 times pooled.</summary>
    private static void AssertFollows(string name, int[] drawn, double[] weight)
    {
        double z = weight.Sum();
        var counts = new double[weight.Length];
        foreach (int id in drawn)
        {
            Assert.True(id >= 0 && id < weight.Length && weight[id] > 0, $"{name}: drew {id}, outside the distribution.");
            counts[id]++;
        }
        var cells = Enumerable.Range(0, weight.Length).Where(v => weight[v] > 0)
            .Select(v => (Expected: drawn.Length * weight[v] / z, Seen: counts[v]));
        var large = cells.Where(c => c.Expected >= 5).ToList();
        var pooled = cells.Where(c => c.Expected < 5).Aggregate((Expected: 0.0, Seen: 0.0),
            (sum, c) => (sum.Expected + c.Expected, sum.Seen + c.Seen));
        if (pooled.Expected > 0) large.Add(pooled);
        double chiSquare = large.Sum(c => (c.Seen - c.Expected) * (c.Seen - c.Expected) / c.Expected);
        int freedom = large.Count - 1;
        Assert.True(chiSquare < ChiSquareCritical(freedom), $"{name}: χ² = {chiSquare:F1} with {freedom} degrees of freedom (p < 1e-6)");
    }

    /// <summary>
    /// The χ² value exceeded with probability 10⁻⁶ (Wilson–Hilferty, z = 4.75): the suite runs some 50 such checks, and at
    /// 2·10⁶ draws per case both methods average χ²/df = 1.0, so a failure means a biased draw, not bad luck.
    /// </summary>
    private static double ChiSquareCritical(int freedom)
    {
        double a = 2.0 / (9 * freedom);
        return freedom * Math.Pow(1 - a + 4.75 * Math.Sqrt(a), 3);
    }

    [SkippableTheory]
    [MemberData(nameof(Draws))]
    public void Nucleus_keeps_only_the_smallest_set_holding_top_p(string backend, CategoricalDraw draw)
    {
        using var s = new DeviceScope(backend);
        int rows = backend == "ilgpu-cpu" ? 2000 : 20_000;
        float[] row = [MathF.Log(0.5f), MathF.Log(0.15f), MathF.Log(0.3f), MathF.Log(0.05f)];
        var ids = s.Upload(new int[rows]);
        s.Kernels.SampleCategorical(s.Upload(Enumerable.Range(0, rows).SelectMany(_ => row).ToArray()), ids, rows, 4, 4,
            new SamplingParameters(9, 0, TopP: 0.7f, Draw: draw));
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

    [SkippableTheory]
    [MemberData(nameof(Draws))]
    public void A_row_with_nothing_to_draw_gets_minus_one(string backend, CategoricalDraw draw)
    {
        using var s = new DeviceScope(backend);
        float nan = float.NaN, inf = float.NegativeInfinity;
        float[] logits = [nan, nan, nan, nan, /* row 2 */ inf, inf, inf, 0f, /* row 3 */ 0f, 1f, 2f, 0f];
        var ids = s.Upload(new[] { 5, 5, 5 });
        s.Kernels.SampleCategorical(s.Upload(logits), ids, 3, 4, 3, new SamplingParameters(4, 1, Draw: draw));
        var drawn = ids.ToArray();
        Assert.Equal([-1, -1], drawn[..2]);
        Assert.InRange(drawn[2], 0, 2);
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Scattered_ids_land_on_their_rows_and_ids_past_the_limit_take_the_replacement(string backend)
    {
        using var s = new DeviceScope(backend);
        var target = s.Upload(new[] { 10, 11, 12, 13, 14, 15, 16 });
        var ids = s.Upload(new[] { 3, -1, 0, 7, 6 });
        var rows = s.Upload(new[] { 5, 0, 2, 6, 3 });
        s.Kernels.ScatterIds(ids, rows, target, 5, 7, limit: 7, replacement: 9);
        Assert.Equal([9, 11, 0, 6, 14, 3, 9], target.ToArray());
        s.Kernels.ScatterIds(ids, rows, target, 0, 7, 7, 9); // nothing to write
        Assert.Equal([9, 11, 0, 6, 14, 3, 9], target.ToArray());

        var repeated = s.Upload(new[] { 1, 4, 1 });
        Assert.Throws<ArgumentException>(() => s.Kernels.ScatterIds(ids, repeated, target, 3, 7, 7, 9));
        var outside = s.Upload(new[] { 1, 7 });
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.ScatterIds(ids, outside, target, 2, 7, 7, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.ScatterIds(ids, rows, target, 5, 7, 7, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Kernels.ScatterIds(ids, rows, target, 5, 7, 0, 9));
        Assert.Equal([9, 11, 0, 6, 14, 3, 9], target.ToArray());
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
