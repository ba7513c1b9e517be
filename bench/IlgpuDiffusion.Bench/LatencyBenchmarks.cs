using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// The latency comparison of docs/algorithms.md §5.7 on the SIMD CPU backend: wall time to generate B sequences of L tokens from scratch
/// with the diffusion sampler (<see cref="DiffusionSampler.Sample"/> from all MASK) at N ∈ {8, 16, 32, 64, 128, L} steps,
/// cached and uncached, against the parameter-matched GPT (<see cref="LatencyComparison.MatchedGpt"/>) decoding with its
/// KV cache (<see cref="GptDecoder.Generate"/>: a beginning-of-text prompt, then L new tokens; end-of-text never stops it),
/// for B ∈ {1, 8} and L ∈ {128, 1024}. The DiT is Tiny (4 layers, 256 wide, 4 heads, GPT-2 vocabulary + MASK; Length = L),
/// 29.84M parameters; the GPT has the same layers, width, heads and vocabulary with an untied head, 28.92M at L 128 and
/// 29.15M at L 1024 (its position table grows with L). Both have random weights: the cost does not depend on the
/// predictions. Columns: tokens/s (B·L per call), model passes per call, and AR / this, the autoregressive model's mean
/// time over this row's for the same B and L (above 1: diffusion is faster).
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class LatencyBenchmarks
{
    private static readonly Dictionary<LatencyCase, int> Passes = [];

    private Device _device = null!;
    private Dit? _dit;
    private Gpt? _gpt;
    private DiffusionSampler? _sampler;
    private GptDecoder? _decoder;
    private int[][] _prompt = [];

    /// <summary>B, L and the generator.</summary>
    [ParamsSource(nameof(Cases))]
    public LatencyCase Case { get; set; } = null!;

    /// <summary>
    /// For B ∈ {1, 8} and L ∈ {128, 1024}: the autoregressive model, then N ∈ {8, 16, 32, 64, 128}, each cached and
    /// uncached, and N = L at L 1024 (at L 128 it is the N = 128 row).
    /// </summary>
    public static IEnumerable<LatencyCase> Cases =>
        from batch in new[] { 1, 8 }
        from length in new[] { 128, 1024 }
        from generator in Generators(length)
        select new LatencyCase(batch, length, generator);

    private static IEnumerable<LatencyGenerator> Generators(int length)
    {
        yield return LatencyGenerator.Autoregressive;
        foreach (int steps in new[] { 8, 16, 32, 64, 128 })
        {
            yield return LatencyGenerator.Diffusion(steps, cached: true);
            yield return LatencyGenerator.Diffusion(steps, cached: false);
        }
        if (length > 128)
        {
            yield return LatencyGenerator.DiffusionAtLength(cached: true);
            yield return LatencyGenerator.DiffusionAtLength(cached: false);
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Create("cpu");
        var (batch, length, generator) = Case;
        var ditConfig = DitConfig.Tiny with { Length = length };
        if (generator.IsAutoregressive)
        {
            _gpt = new Gpt(LatencyComparison.MatchedGpt(ditConfig, length), _device, withGradients: false);
            _gpt.Initialize(1);
            _decoder = new GptDecoder(_gpt, batch, length + 1, maxPromptLength: 1, new GptSamplingOptions { Seed = 3, EndOfText = null });
            _prompt = [[Gpt2Tokenizer.Bos]];
        }
        else
        {
            _dit = new Dit(ditConfig, _device, withGradients: false);
            var random = new Random(2);
            var weights = new float[_dit.Parameters.All.Length];
            for (int i = 0; i < weights.Length; i++) weights[i] = (float)(random.NextDouble() - 0.5) * 0.1f;
            _dit.Parameters.All.CopyFrom(weights);
            _sampler = new DiffusionSampler(_dit, new SamplerOptions
            {
                Steps = generator.StepsAt(length),
                BatchSize = batch,
                Cached = generator.Cached,
                Seed = 3,
            });
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _decoder?.Dispose();
        _sampler?.Dispose();
        _gpt?.Dispose();
        _dit?.Dispose();
        _device.Dispose();
    }

    /// <summary>B sequences of L tokens from scratch.</summary>
    [Benchmark(Description = "Generate B x L")]
    public int Generate()
    {
        int passes = _decoder is not null ? _decoder.Generate(_prompt).ForwardPasses : _sampler!.Sample().ForwardPasses;
        Passes[Case] = passes;
        return passes;
    }

    private static LatencyCase CaseOf(BenchmarkCase benchmarkCase) => (LatencyCase)benchmarkCase.Parameters["Case"];

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            // In process, two measured calls after the jitting call (a full call, so it is the warm-up): an uncached N = L call
            // at L 1024 runs 1024 passes over B·L tokens.
            AddJob(Job.Default.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromHours(2), logOutput: true))
                .WithLaunchCount(1).WithWarmupCount(0).WithIterationCount(2).WithInvocationCount(1).WithUnrollFactor(1)
                .WithId("short-inprocess"));
            AddColumn(new CaseColumn("TokensPerSecond", "tokens/s", "Generated tokens (B·L) per second of mean time",
                (c, ns) => (CaseOf(c).Batch * CaseOf(c).Length / (ns * 1e-9)).ToString("N0")));
            AddColumn(new CaseColumn("Passes", "passes",
                "Model passes in one call (diffusion: trunk passes; AR: prefill + decoding passes)",
                (c, _) => Passes.TryGetValue(CaseOf(c), out int n) ? n.ToString() : "-"));
            AddColumn(CaseColumn.PeerRatio("ArOverThis", "AR/this",
                "Autoregressive (KV cache) mean time over this row's at the same B and L; above 1 the diffusion sampler is faster",
                (row, peer) => CaseOf(peer) == CaseOf(row) with { Generator = LatencyGenerator.Autoregressive }));
            HideColumns(Column.Error, Column.Job, Column.Toolchain, Column.IterationCount, Column.LaunchCount, Column.WarmupCount,
                Column.InvocationCount, Column.UnrollFactor);
            WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(32));
        }
    }
}
