using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace IlgpuDiffusion.Bench;

/// <summary>The compulsory memory traffic of one call of a benchmark method, in bytes.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class TrafficAttribute(long bytes) : Attribute
{
    /// <summary>Bytes an op must read or write at least once.</summary>
    public long Bytes { get; } = bytes;
}

/// <summary>GB/s = <see cref="TrafficAttribute.Bytes"/> / mean time, for methods that declare their traffic.</summary>
public sealed class TrafficColumn : IColumn
{
    public string Id => nameof(TrafficColumn);
    public string ColumnName => "GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Compulsory memory traffic divided by the mean time";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var traffic = benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<TrafficAttribute>();
        double? nanoseconds = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return traffic is null || nanoseconds is not > 0 ? "-" : (traffic.Bytes / nanoseconds.Value).ToString("F1");
    }
}
