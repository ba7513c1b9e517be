using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace IlgpuDiffusion.Bench;

/// <summary>A custom column whose value a function computes from the summary and the case.</summary>
/// <param name="id"></param>
/// <param name="header"></param>
/// <param name="legend"></param>
/// <param name="value"></param>
/// <param name="priority">Order among the custom columns (ratio columns come after the plain ones).</param>
public sealed class CaseColumn(string id, string header, string legend, Func<Summary, BenchmarkCase, string> value, int priority = 0)
    : IColumn
{
    /// <summary>A column computed from a case and its mean time in nanoseconds ("-" before a result exists).</summary>
    public CaseColumn(string id, string header, string legend, Func<BenchmarkCase, double, string> value)
        : this(id, header, legend, (summary, benchmarkCase) => MeanOf(summary, benchmarkCase) is double ns ? value(benchmarkCase, ns) : "-")
    {
    }

    /// <summary>
    /// The mean time of a row's peer case over the row's own ("2.00x": the row is twice as fast), e.g. TorchSharp
    /// over ours or the autoregressive decoder over a diffusion sampler; "-" where the row has no measured peer.
    /// </summary>
    /// <param name="id"></param>
    /// <param name="header"></param>
    /// <param name="legend"></param>
    /// <param name="peerOf">For a row, whether a case is its peer; never true for rows that show no ratio.</param>
    public static CaseColumn PeerRatio(string id, string header, string legend, Func<BenchmarkCase, BenchmarkCase, bool> peerOf) =>
        new(id, header, legend, (summary, benchmarkCase) =>
        {
            var peer = summary.BenchmarksCases.FirstOrDefault(c => peerOf(benchmarkCase, c));
            double? own = MeanOf(summary, benchmarkCase), theirs = peer is null ? null : MeanOf(summary, peer);
            return own is double o && theirs is double t ? $"{t / o:F2}x" : "-";
        }, priority: 1);

    /// <inheritdoc/>
    public string Id => id;

    /// <inheritdoc/>
    public string ColumnName => header;

    /// <inheritdoc/>
    public bool AlwaysShow => true;

    /// <inheritdoc/>
    public ColumnCategory Category => ColumnCategory.Custom;

    /// <inheritdoc/>
    public int PriorityInCategory => priority;

    /// <inheritdoc/>
    public bool IsNumeric => true;

    /// <inheritdoc/>
    public UnitType UnitType => UnitType.Dimensionless;

    /// <inheritdoc/>
    public string Legend => legend;

    /// <inheritdoc/>
    public bool IsAvailable(Summary summary) => true;

    /// <inheritdoc/>
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => value(summary, benchmarkCase);

    /// <summary>The case's mean time in nanoseconds, or null before a positive result exists.</summary>
    private static double? MeanOf(Summary summary, BenchmarkCase benchmarkCase) =>
        summary[benchmarkCase]?.ResultStatistics?.Mean is > 0 and var mean ? mean : null;
}
