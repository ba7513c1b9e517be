using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IlgpuDiffusion.Bench.Gemm;
using IlgpuDiffusion.Compute;
using TorchSharp;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// Multi-head attention forward + backward (bidirectional, scale 1/√d, as in the DiT) at the Small model's
/// head shape (12 heads of 64): our SIMD CPU backend against TorchSharp-cpu <c>scaled_dot_product_attention</c> forward +
/// backward (2 threads) in the same process. FLOP convention (<see cref="AttentionShape.Flops"/>):
/// forward 4·B·H·T²·d (q·kᵀ and p·v), backward 2.5× that (q·kᵀ recomputed, dv, dp, dq, dk), 3.5× in all,
/// the same count for both sides. MemoryDiagnoser shows our forward + backward allocates 0 B.
/// </summary>
[Config(typeof(AttentionConfig))]
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private Device _device = null!;
    private IKernels _k = null!;
    private Tensor<float> _qkv, _output, _logSumExp, _dOutput, _dQkv;
    private torch.Tensor? _q, _key, _value, _upstream;

    /// <summary>The attention problem being measured.</summary>
    [ParamsSource(nameof(Shapes))]
    public AttentionShape Shape { get; set; } = null!;

    /// <summary>The Small model's heads at two lengths: (batch 4, heads 12, T 1024, d 64) and (batch 8, heads 12, T 256, d 64).</summary>
    public static IEnumerable<AttentionShape> Shapes => [new(4, 12, 1024, 64), new(8, 12, 256, 64)];

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        _device = Device.Create("cpu");
        _k = _device.Kernels;
        var random = new Random(1);
        Tensor<float> T(long n) =>
            _device.Upload<float>(Enumerable.Range(0, (int)n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray(), new Shape((int)n));
        var (b, h, t, d) = (Shape.Batch, Shape.Heads, Shape.Tokens, Shape.HeadDim);
        (_qkv, _dQkv) = (T(3L * b * t * h * d), T(3L * b * t * h * d));
        (_output, _dOutput, _logSumExp) = (T((long)b * t * h * d), T((long)b * t * h * d), T((long)b * h * t));
        // Torch operands [B, H, T, d] with gradients, as a model's attention would hold them.
        _q = torch.rand(b, h, t, d, requires_grad: true);
        _key = torch.rand(b, h, t, d, requires_grad: true);
        _value = torch.rand(b, h, t, d, requires_grad: true);
        _upstream = torch.rand(b, h, t, d);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _device.Dispose();
        foreach (var tensor in new[] { _q, _key, _value, _upstream }) tensor?.Dispose();
    }

    /// <summary>IlgpuDiffusion AttentionForward then AttentionBackward (dQkv accumulated).</summary>
    [Benchmark(Description = Ours)]
    public void OursForwardBackward()
    {
        var (b, h, t, d) = (Shape.Batch, Shape.Heads, Shape.Tokens, Shape.HeadDim);
        _k.AttentionForward(_qkv, _output, _logSumExp, b, t, h, d, causal: false);
        _k.AttentionBackward(_dOutput, _qkv, _output, _logSumExp, _dQkv, b, t, h, d, causal: false);
    }

    /// <summary>TorchSharp-cpu scaled_dot_product_attention, then backward (q, k, v gradients accumulated).</summary>
    [Benchmark(Description = Torch)]
    public void TorchForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        var output = torch.nn.functional.scaled_dot_product_attention(_q!, _key!, _value!);
        output.backward([_upstream!]);
    }

    /// <summary>Description of our case in the table.</summary>
    public const string Ours = "IlgpuDiffusion fwd+bwd";

    /// <summary>Description of the peer's case in the table.</summary>
    public const string Torch = "torch sdpa fwd+bwd";
}

/// <summary>One attention problem: batch, heads, tokens, head size.</summary>
public sealed record AttentionShape(int Batch, int Heads, int Tokens, int HeadDim)
{
    /// <summary>Forward + backward: 3.5 × 4·B·H·T²·d (see <see cref="AttentionBenchmarks"/>).</summary>
    public double Flops => 3.5 * 4.0 * Batch * Heads * (double)Tokens * Tokens * HeadDim;

    /// <summary>Shown in the table, e.g. "B4 H12 T1024 d64".</summary>
    public override string ToString() => $"B{Batch} H{Heads} T{Tokens} d{HeadDim}";
}

/// <summary>
/// The GEMM suite's short in-process job (libtorch must load from the bench output's patched copy),
/// with attention's GFLOP/s, % of peak and ours/torch columns.
/// </summary>
public sealed class AttentionConfig : ManualConfig
{
    public AttentionConfig()
    {
        AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(7)
            .WithId("short-inprocess"));
        AddColumn(new GflopsColumn(), new PeakColumn(), new VersusTorchColumn());
        HideColumns(Column.Error, Column.Job, Column.Toolchain, Column.IterationCount, Column.LaunchCount, Column.WarmupCount);
    }

    /// <summary>GFLOP/s of a case from its mean time, or null without a result.</summary>
    private static double? Gflops(Summary summary, BenchmarkCase benchmarkCase) =>
        summary[benchmarkCase]?.ResultStatistics is { } statistics
            ? ((AttentionShape)benchmarkCase.Parameters["Shape"]).Flops / statistics.Mean // flops per ns = GFLOP/s
            : null;

    private sealed class GflopsColumn() : GemmColumns.NumberColumn("AttentionGflops", "GFLOP/s",
        "3.5 × 4·B·H·T²·d / mean time (forward + backward)")
    {
        protected override string? Value(Summary summary, BenchmarkCase benchmarkCase) => Gflops(summary, benchmarkCase)?.ToString("F1");
    }

    private sealed class PeakColumn() : GemmColumns.NumberColumn("AttentionPeak", "% peak",
        $"GFLOP/s as a share of the measured {GemmColumns.PeakGflops} GFLOP/s fp32 FMA peak")
    {
        protected override string? Value(Summary summary, BenchmarkCase benchmarkCase) =>
            Gflops(summary, benchmarkCase) is { } g ? $"{g / GemmColumns.PeakGflops * 100:F0}%" : null;
    }

    private sealed class VersusTorchColumn() : GemmColumns.NumberColumn("AttentionVsTorch", "ours/torch",
        "Torch's mean time over ours on the same shape")
    {
        protected override string? Value(Summary summary, BenchmarkCase benchmarkCase)
        {
            if (benchmarkCase.Descriptor.WorkloadMethod.Name != nameof(AttentionBenchmarks.OursForwardBackward)) return null;
            var shape = benchmarkCase.Parameters["Shape"];
            var torchCase = summary.BenchmarksCases.FirstOrDefault(c =>
                c.Descriptor.WorkloadMethod.Name == nameof(AttentionBenchmarks.TorchForwardBackward)
                    && Equals(c.Parameters["Shape"], shape));
            double? ours = Gflops(summary, benchmarkCase), torch = torchCase is null ? null : Gflops(summary, torchCase);
            return ours is { } o && torch is { } t ? $"{o / t:F2}x" : null;
        }
    }
}
