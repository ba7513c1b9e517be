using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace IlgpuDiffusion.Bench.Gemm;

/// <summary>Throughput columns for <see cref="GemmBenchmarks"/>, computed from each case's mean time.</summary>
public static class GemmColumns
{
    /// <summary>Measured fp32 FMA peak of the reference machine (2 cores, AVX-512, 2 FMA pipes), GFLOP/s.</summary>
    public const double PeakGflops = 410;

    public const string Ours = "IlgpuDiffusion SimdGemm";
    public const string TorchMatmul = "torch.matmul";
    public const string TorchAddmm = "torch addmm_ (in place)";

    // Benchmark methods, matched by name (BenchmarkDotNet quotes descriptions with spaces).
    private const string OursMethod = nameof(GemmBenchmarks.Ours);
    private const string TorchMatmulMethod = nameof(GemmBenchmarks.TorchMatmul);
    private const string TorchAddmmMethod = nameof(GemmBenchmarks.TorchAddmmInPlace);

    /// <summary>GFLOP/s of a case from its mean time, or null without a result.</summary>
    public static double? Gflops(Summary summary, BenchmarkCase benchmarkCase)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } statistics) return null;
        var shape = (GemmShape)benchmarkCase.Parameters["Shape"];
        return shape.Flops / statistics.Mean; // flops per nanosecond = GFLOP/s
    }

    /// <summary>GFLOP/s of the case with the same shape and the given benchmark method.</summary>
    private static double? Sibling(Summary summary, BenchmarkCase benchmarkCase, string method)
    {
        var shape = benchmarkCase.Parameters["Shape"];
        var sibling = summary.BenchmarksCases.FirstOrDefault(c =>
            c.Descriptor.WorkloadMethod.Name == method && Equals(c.Parameters["Shape"], shape));
        return sibling is null ? null : Gflops(summary, sibling);
    }

    internal abstract class NumberColumn(string id, string header, string legend) : IColumn
    {
        public string Id => id;
        public string ColumnName => header;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => legend;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => Value(summary, benchmarkCase) ?? "-";
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
        protected abstract string? Value(Summary summary, BenchmarkCase benchmarkCase);
    }

    internal sealed class GflopsColumn() : NumberColumn("Gflops", "GFLOP/s", "Throughput: 2·m·n·k / mean time")
    {
        protected override string? Value(Summary summary, BenchmarkCase benchmarkCase) => Gflops(summary, benchmarkCase)?.ToString("F1");
    }

    internal sealed class PeakColumn() : NumberColumn("PercentPeak", "% peak",
        $"GFLOP/s as a share of the measured {PeakGflops} GFLOP/s fp32 FMA peak")
    {
        protected override string? Value(Summary summary, BenchmarkCase benchmarkCase) =>
            Gflops(summary, benchmarkCase) is { } g ? $"{g / PeakGflops * 100:F0}%" : null;
    }

    internal sealed class VersusTorchColumn() : NumberColumn("OursVsTorch", "ours/torch",
        "Our GFLOP/s over the better of torch.matmul and addmm_ on the same shape")
    {
        protected override string? Value(Summary summary, BenchmarkCase benchmarkCase)
        {
            if (benchmarkCase.Descriptor.WorkloadMethod.Name != OursMethod) return null;
            double? ours = Gflops(summary, benchmarkCase);
            double? torch = Max(Sibling(summary, benchmarkCase, TorchMatmulMethod), Sibling(summary, benchmarkCase, TorchAddmmMethod));
            return ours is { } o && torch is { } t ? $"{o / t:F2}x" : null;
        }

        private static double? Max(double? x, double? y) => x is null ? y : y is null ? x : Math.Max(x.Value, y.Value);
    }
}
