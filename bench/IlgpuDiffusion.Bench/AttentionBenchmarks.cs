using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// Multi-head attention forward + backward (bidirectional, scale 1/√d, as in the DiT) on the SIMD CPU
/// backend at the shapes. FLOP convention (<see cref="AttentionShape.Flops"/>): forward
/// 4·B·H·T²·d (q·kᵀ and p·v), backward 2.5× that (q·kᵀ recomputed, dv, dp, dq, dk), 3.5× in all.
/// MemoryDiagnoser shows what one forward + backward allocates after warm-up (0 B).
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private Device _device = null!;
    private IKernels _k = null!;
    private Tensor<float> _qkv, _output, _logSumExp, _dOutput, _dQkv;

    /// <summary>The attention problem being measured.</summary>
    [ParamsSource(nameof(Shapes))]
    public AttentionShape Shape { get; set; } = null!;

    /// <summary>The shapes: (batch 4, heads 12, T 1024, d 64) and (batch 8, heads 12, T 256, d 64).</summary>
    public static IEnumerable<AttentionShape> Shapes => [new(4, 12, 1024, 64), new(8, 12, 256, 64)];

    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Create("cpu");
        _k = _device.Kernels;
        var random = new Random(1);
        Tensor<float> T(long n) => _device.Upload<float>(Enumerable.Range(0, (int)n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray(), new Shape((int)n));
        var (b, h, t, d) = (Shape.Batch, Shape.Heads, Shape.Tokens, Shape.HeadDim);
        (_qkv, _dQkv) = (T(3L * b * t * h * d), T(3L * b * t * h * d));
        (_output, _dOutput, _logSumExp) = (T((long)b * t * h * d), T((long)b * t * h * d), T((long)b * h * t));
    }

    [GlobalCleanup]
    public void Cleanup() => _device.Dispose();

    /// <summary>IlgpuDiffusion AttentionForward then AttentionBackward (dQkv accumulated).</summary>
    [Benchmark(Description = Ours)]
    public void OursForwardBackward()
    {
        var (b, h, t, d) = (Shape.Batch, Shape.Heads, Shape.Tokens, Shape.HeadDim);
        _k.AttentionForward(_qkv, _output, _logSumExp, b, t, h, d, causal: false);
        _k.AttentionBackward(_dOutput, _qkv, _output, _logSumExp, _dQkv, b, t, h, d, causal: false);
    }

    /// <summary>Description of our case in the table.</summary>
    public const string Ours = "IlgpuDiffusion fwd+bwd";

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(7).WithId("short"));
            AddColumn(new AttentionGflopsColumn());
            HideColumns(Column.Error, Column.Job, Column.IterationCount, Column.LaunchCount, Column.WarmupCount);
        }
    }
}

/// <summary>One attention problem: batch, heads, tokens, head size.</summary>
public sealed record AttentionShape(int Batch, int Heads, int Tokens, int HeadDim)
{
    /// <summary>Forward + backward: 3.5 × 4·B·H·T²·d (see <see cref="AttentionBenchmarks"/>).</summary>
    public double Flops => 3.5 * 4.0 * Batch * Heads * (double)Tokens * Tokens * HeadDim;

    /// <summary>Shown in the table, e.g. "B4 H12 T1024 d64".</summary>
    public override string ToString() => $"B{Batch} H{Heads} T{Tokens} d{HeadDim}";
}

/// <summary>GFLOP/s of a forward + backward from its mean time, with the FLOP convention of <see cref="AttentionShape.Flops"/>.</summary>
public sealed class AttentionGflopsColumn : IColumn
{
    public string Id => nameof(AttentionGflopsColumn);
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "3.5 × 4·B·H·T²·d / mean time";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        double? nanoseconds = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (nanoseconds is not > 0) return "-";
        return (((AttentionShape)benchmarkCase.Parameters["Shape"]).Flops / nanoseconds.Value).ToString("F1");
    }
}
