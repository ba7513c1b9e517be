namespace IlgpuDiffusion.Sampling;

/// <summary>Sampled sequences and what they cost.</summary>
/// <param name="Ids">[BatchSize·Length] token ids, sequence after sequence.</param>
/// <param name="BatchSize">Sequences.</param>
/// <param name="Length">Tokens per sequence.</param>
/// <param name="ForwardPasses">Model trunk passes (the function evaluations the cache saves).</param>
/// <param name="Elapsed">Wall time of the sampling call.</param>
public sealed record SamplingResult(int[] Ids, int BatchSize, int Length, int ForwardPasses, TimeSpan Elapsed)
{
    /// <summary>The ids of sequence <paramref name="index"/>.</summary>
    public ReadOnlySpan<int> Sequence(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, BatchSize);
        return Ids.AsSpan(index * Length, Length);
    }

    /// <summary>Generated tokens per second of wall time.</summary>
    public double TokensPerSecond => Ids.Length / Math.Max(Elapsed.TotalSeconds, 1e-9);
}
