using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// The mean time of a row's peer case over the row's own ("2.00x": the row is twice as fast), e.g. TorchSharp
/// over ours or the autoregressive decoder over a diffusion sampler; "-" where the row has no measured peer.
/// </summary>
/// <param name="peerOf">For a row, whether a case is its peer; never true for rows that show no ratio.</param>
public sealed class PeerRatioColumn(string id, string header, string legend, Func<BenchmarkCase, BenchmarkCase, bool> peerOf) : IColumn
{
    /// <inheritdoc/>
    public string Id => id;

    /// <inheritdoc/>
    public string ColumnName => header;

    /// <inheritdoc/>
    public bool AlwaysShow => true;

    /// <inheritdoc/>
    public ColumnCategory Category => ColumnCategory.Custom;

    /// <inheritdoc/>
    public int PriorityInCategory => 1;

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
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var peer = summary.BenchmarksCases.FirstOrDefault(c => peerOf(benchmarkCase, c));
        double? own = summary[benchmarkCase]?.ResultStatistics?.Mean, theirs = peer is null ? null : summary[peer]?.ResultStatistics?.Mean;
        return own is > 0 && theirs is > 0 ? $"{theirs.Value / own.Value:F2}x" : "-";
    }
}
