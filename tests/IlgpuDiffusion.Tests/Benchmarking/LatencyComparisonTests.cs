using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Benchmarking;

/// <summary>The latency comparison: the parameter-matched GPT, the rows and passes it reports, the Markdown table.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class LatencyComparisonTests
{
    [Fact]
    public void The_matched_gpt_differs_from_the_dit_only_by_the_conditioning_weights_and_the_position_table()
    {
        DitConfig dit = DitConfig.Tiny;
        GptConfig gpt = LatencyComparison.MatchedGpt(dit, dit.Length);
        Assert.Equal((dit.Layers, dit.Hidden, dit.Heads, dit.Vocab, dit.Length + 1),
            (gpt.Layers, gpt.Hidden, gpt.Heads, gpt.Vocab, gpt.Length));
        Assert.False(gpt.TiedHead);

        long d = dit.Hidden, c = dit.CondDim;
        long sigmaMap = DitConfig.FrequencyEmbeddingSize * c + c + c * c + c;
        // per block: DiT norms without bias (2d), qkv/out without bias (−4d), adaLN (6dc + 6d) against GPT-2's LN biases
        // and Linear biases; at the end: the DiT's final adaLN (2dc + 2d) and head bias (V) against ln_f's bias and wpe.
        long expected = sigmaMap + dit.Layers * 6 * d * c + (2 * d * c + d + dit.Vocab) - (dit.Length + 1) * d;
        Assert.Equal(expected, dit.ParameterCount() - gpt.ParameterCount());
        Assert.Equal(29_843_538, dit.ParameterCount());
        Assert.Equal(28_924_672, gpt.ParameterCount()); // 2·50258·256 + 129·256 + 4·789,760 + 512
    }

    [Fact]
    public void Reports_the_autoregressive_row_then_each_step_count_cached_and_uncached()
    {
        using var dit = TinyModels.NewSamplerDit();
        using var gpt = MatchedGpt(dit);
        var options = TwoSequences with { Steps = [4, TinyModels.Length], TimedRuns = 2 };
        var streamed = new List<LatencyMeasurement>();

        var report = LatencyComparison.Run(dit, gpt, options, streamed.Add);

        Assert.Equal(report.Measurements, streamed);
        Assert.All(report.Measurements, m => Assert.Null(m.Profile));
        Assert.Equal([null, 4, 4, 16, 16], report.Measurements.Select(m => m.Steps));
        Assert.Equal([null, true, false, true, false], report.Measurements.Select(m => m.Cached));
        Assert.All(report.Measurements, m => Assert.Equal(2 * TinyModels.Length, m.Tokens));
        Assert.All(report.Measurements, m => Assert.InRange(m.Fastest, TimeSpan.FromTicks(1), m.Mean));
        // the prefill of the prompt token, then a pass after every new token but the last
        Assert.Equal(TinyModels.Length, report.Autoregressive.ForwardPasses);
        Assert.Equal(1.0, report.ArOverThis(report.Autoregressive), 12);
        foreach (int steps in options.Steps)
        {
            var cached = report.Measurements.Single(m => m.Steps == steps && m.Cached == true);
            var uncached = report.Measurements.Single(m => m.Steps == steps && m.Cached == false);
            Assert.InRange(uncached.ForwardPasses, steps, steps + 1); // every step, plus noise removal if a mask is left
            Assert.InRange(cached.ForwardPasses, 1, uncached.ForwardPasses);
        }
        string[] lines = report.ToMarkdown().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + 2 + report.Measurements.Count, lines.Length);
        Assert.StartsWith("| autoregressive (KV cache) | — | KV |", lines[3]);
        Assert.EndsWith("| 1.00× |", lines[3]);
    }

    /// <summary>
    /// With <see cref="LatencyOptions.Profile"/> each generator runs once more under a profile of the device: the attention
    /// ops of its passes, one per layer and pass, as many passes as the timed run made.
    /// </summary>
    [Fact]
    public void A_profiled_run_follows_each_generators_timed_ones()
    {
        using var dit = TinyModels.NewSamplerDit();
        using var gpt = MatchedGpt(dit);
        var options = TwoSequences with { Steps = [4], Profile = true };

        var report = LatencyComparison.Run(dit, gpt, options);

        Assert.Equal(3, report.Measurements.Count);
        foreach (LatencyMeasurement row in report.Measurements)
        {
            var profile = Assert.IsType<KernelProfile>(row.Profile);
            long attention = profile.Entries.Where(e => e.Op.StartsWith("Attention", StringComparison.Ordinal)).Sum(e => e.Calls);
            Assert.Equal((long)row.ForwardPasses * dit.Config.Layers, attention);
            Assert.InRange(profile.InOps, TimeSpan.FromTicks(1), profile.Elapsed);
        }
        using (dit.Device.StartProfile()) { } // every profiled run's profile has ended
    }

    [Fact]
    public void Refuses_a_length_that_one_model_cannot_generate()
    {
        using var dit = TinyModels.NewSamplerDit();
        using var gpt = new Gpt(LatencyComparison.MatchedGpt(dit.Config, TinyModels.Length - 1), dit.Device, withGradients: false);
        var options = new LatencyOptions { BatchSize = 1, Length = TinyModels.Length, Steps = [2] };
        var error = Assert.Throws<ArgumentException>(() => LatencyComparison.Run(dit, gpt, options));
        Assert.Contains("MatchedGpt", error.Message);
        Assert.Throws<ArgumentException>(() => LatencyComparison.Run(dit, gpt, options with { Length = TinyModels.Length + 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyComparison.Run(dit, gpt, options with { Steps = [] }));
    }

    /// <summary>Two sequences of the sampler DiT's whole length, no warm-up run.</summary>
    private static LatencyOptions TwoSequences { get; } = new() { BatchSize = 2, Length = TinyModels.Length, WarmupRuns = 0 };

    /// <summary>The GPT matched to <paramref name="dit"/> at its length, on its device, initialized.</summary>
    private static Gpt MatchedGpt(Dit dit)
    {
        var gpt = new Gpt(LatencyComparison.MatchedGpt(dit.Config, TinyModels.Length), dit.Device, withGradients: false);
        gpt.Initialize(3);
        return gpt;
    }
}
