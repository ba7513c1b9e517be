namespace IlgpuDiffusion.Bench;

/// <summary>One row of <see cref="LatencyBenchmarks"/>: B sequences of L tokens by one generator.</summary>
public sealed record LatencyCase(int Batch, int Length, LatencyGenerator Generator)
{
    /// <summary>Shown in the table and matched by <c>--filter</c>, e.g. <c>B=8 L=128 N=16 cached</c>.</summary>
    public override string ToString() => $"B={Batch} L={Length} {Generator}";
}
