namespace IlgpuDiffusion.Distributed;

/// <summary>
/// A split of <c>n</c> values into one contiguous segment per rank, as equal as integers allow (the first n mod R ranks
/// hold one more): rank r owns, sums and gathers segment r of a reduction. Counts and offsets are MPI's ints.
/// </summary>
internal sealed class RankSegments
{
    /// <summary>Splits <paramref name="length"/> values over <paramref name="ranks"/> ranks.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The length exceeds what one MPI call counts (2³¹ − 1).</exception>
    public RankSegments(long length, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(length), $"{length} values exceed the {int.MaxValue} one MPI call can sum.");
        Length = (int)length;
        Counts = new int[ranks];
        Offsets = new int[ranks];
        int offset = 0;
        for (int r = 0; r < ranks; r++)
        {
            Counts[r] = Length / ranks + (r < Length % ranks ? 1 : 0);
            Offsets[r] = offset;
            offset += Counts[r];
        }
    }

    /// <summary>The values split.</summary>
    public int Length { get; }

    /// <summary>Values of each rank's segment. <c>[ranks]</c></summary>
    public int[] Counts { get; }

    /// <summary>Where each rank's segment starts. <c>[ranks]</c></summary>
    public int[] Offsets { get; }

    /// <summary>The largest segment.</summary>
    public int MaxCount => Counts[0];
}
