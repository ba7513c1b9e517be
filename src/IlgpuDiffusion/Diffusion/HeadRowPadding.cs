namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// How many rows an output head computes for <c>rows</c> rows of a loss when its rows are padded to a multiple
/// (<see cref="IlgpuDiffusion.Compute.Device.HeadRowMultiple"/>): the multiple at or above them, but no more rows than
/// there are to take (docs/algorithms.md §2.4).
/// </summary>
internal static class HeadRowPadding
{
    /// <summary>
    /// <paramref name="rows"/> rounded up to a multiple of <paramref name="multiple"/>, at most <paramref name="limit"/>.
    /// </summary>
    /// <param name="rows">The loss's rows, at most <paramref name="limit"/>.</param>
    /// <param name="multiple">The head-row multiple, at least 1.</param>
    /// <param name="limit">The rows there are to take.</param>
    public static int Of(int rows, int multiple, int limit) =>
        (int)Math.Min((rows + (long)multiple - 1) / multiple * multiple, limit);
}
