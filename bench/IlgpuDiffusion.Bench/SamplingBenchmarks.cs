using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// Unconditional ancestral sampling (<see cref="DiffusionSampler.Sample"/>) of the Tiny preset (4 layers, 256 wide,
/// L 128, GPT-2 vocabulary) on the SIMD CPU backend, batch 8, MDLM's cache on, at N ∈ {8, 16, 64} steps (the SDTT
/// students' regime), with each categorical draw: the fp64 inverse CDF (the default) and the exponential race (the
/// earlier default, kept for MDLM's ids). Columns: generated tokens per second (B·L per sample call) and the model
/// trunk passes one call ran.
/// The model has random weights (the reveal pattern, and so the cost, does not depend on what it predicts).
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class SamplingBenchmarks
{
    /// <summary>Sequences per call.</summary>
    public const int Batch = 8;

    private static readonly Dictionary<(int Steps, CategoricalDraw Draw), int> ForwardPasses = [];

    private Device _device = null!;
    private Dit _model = null!;
    private DiffusionSampler _sampler = null!;

    /// <summary>Denoising steps N.</summary>
    [Params(8, 16, 64)]
    public int Steps { get; set; }

    /// <summary>How each token is drawn from its categorical distribution.</summary>
    [Params(CategoricalDraw.InverseCdf, CategoricalDraw.ExponentialRace)]
    public CategoricalDraw Draw { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Create("cpu");
        _model = new Dit(DitConfig.Tiny, _device, withGradients: false);
        _model.Initialize(1);
        var random = new Random(2);
        var weights = new float[_model.Parameters.All.Length];
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(random.NextDouble() - 0.5) * 0.1f;
        _model.Parameters.All.CopyFrom(weights);
        _sampler = new DiffusionSampler(_model,
            new SamplerOptions { Steps = Steps, BatchSize = Batch, Cached = true, Seed = 3, Draw = Draw });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sampler.Dispose();
        _model.Dispose();
        _device.Dispose();
    }

    /// <summary>Eight sequences of 128 tokens from all MASK.</summary>
    [Benchmark(Description = "DiffusionSampler.Sample Tiny B8 L128")]
    public int Sample()
    {
        var result = _sampler.Sample();
        ForwardPasses[(Steps, Draw)] = result.ForwardPasses;
        return result.Ids[0];
    }

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3).WithInvocationCount(1).WithUnrollFactor(1)
                .WithId("short-inprocess"));
            AddColumn(new CaseColumn("TokensPerSecond", "tokens/s", "Generated tokens (B·L) per second",
                (_, ns) => (Batch * DitConfig.Tiny.Length / (ns * 1e-9)).ToString("N0")));
            AddColumn(new CaseColumn("ForwardPasses", "passes", "Model trunk passes in one call",
                (c, _) => ForwardPasses.TryGetValue(((int)c.Parameters["Steps"], (CategoricalDraw)c.Parameters["Draw"]), out int n)
                    ? n.ToString()
                    : "-"));
            HideColumns(Column.Error, Column.Job, Column.Toolchain, Column.IterationCount, Column.LaunchCount, Column.WarmupCount,
                Column.InvocationCount, Column.UnrollFactor);
        }
    }
}
