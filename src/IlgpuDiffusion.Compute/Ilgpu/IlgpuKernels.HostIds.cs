using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

// Ids checked on the host before a launch, as kernels index with them unchecked: from the buffer's host mirror when the
// ids came from the host or a device op bounded them, else read back; the staging arrays serve Embedding, Losses,
// CrossEntropy, Rows and Sampling. No device code.
internal sealed partial class IlgpuKernels
{
    // Host staging, grown to the largest rows seen (steady-state calls allocate nothing).
    private int[] _hostIds = [];
    private long[] _sortKeys = [];

    /// <summary>
    /// <paramref name="rows"/> ids checked to lie in [0, limit) and differ from <paramref name="forbidden"/> (kernels
    /// index with them unchecked), from <see cref="HostIds"/>.
    /// </summary>
    private ReadOnlySpan<int> ReadIds(Tensor<int> ids, int rows, int limit, int forbidden, string name, string what)
    {
        Check.Count(ids, rows, name);
        var hostIds = HostIds(ids, rows);
        for (int r = 0; r < rows; r++)
            if ((uint)hostIds[r] >= (uint)limit || hostIds[r] == forbidden)
                throw new ArgumentOutOfRangeException(name, $"'{name}'[{r}] = {hostIds[r]} is not a valid {what}.");
        return hostIds;
    }

    /// <summary>
    /// Checks ids as <see cref="ReadIds"/> does, without their values: from the buffer's <see cref="HostIdMirror"/> where
    /// its values and bounds decide (no wait), else through <see cref="ReadIds"/>.
    /// </summary>
    private void CheckIds(Tensor<int> ids, int rows, int limit, int forbidden, string name, string what)
    {
        Check.Count(ids, rows, name);
        if (!KnownValid(ids, rows, limit, forbidden)) ReadIds(ids, rows, limit, forbidden, name, what);
    }

    /// <summary>Whether the buffer's mirror shows every one of the ids in [0, limit) and other than forbidden.</summary>
    private static bool KnownValid(Tensor<int> ids, int rows, int limit, int forbidden) =>
        (ids.Buffer as IlgpuBuffer<int>)?.Ids is { } mirror && mirror.TryCheck(ids.Offset, rows, limit, forbidden, out int invalid)
        && invalid < 0;

    /// <summary>
    /// The <paramref name="rows"/> ids of <paramref name="ids"/> on the host: from its buffer's
    /// <see cref="HostIdMirror"/> when that knows them (ids the host uploaded: no wait), else copied into
    /// <see cref="_hostIds"/>, which waits for queued work.
    /// </summary>
    private ReadOnlySpan<int> HostIds(Tensor<int> ids, int rows)
    {
        if ((ids.Buffer as IlgpuBuffer<int>)?.Ids is { } mirror && mirror.TryGet(ids.Offset, rows, out var known))
            return known;
        if (_hostIds.Length < rows) _hostIds = new int[rows];
        ids.Buffer.CopyToHost(ids.Offset, _hostIds.AsSpan(0, rows));
        return _hostIds.AsSpan(0, rows);
    }

    /// <summary>A device op is about to write <paramref name="ids"/>: its buffer's host mirror no longer holds.</summary>
    private static void ForgetHostIds(Tensor<int> ids) => (ids.Buffer as IlgpuBuffer<int>)?.Ids?.Forget();

    /// <summary>
    /// Throws when an id of <paramref name="ids"/> repeats (a scatter's rows must each have one writer: no atomics).
    /// </summary>
    private void CheckDistinct(ReadOnlySpan<int> ids, string name, string what)
    {
        if (_sortKeys.Length < ids.Length) _sortKeys = new long[ids.Length];
        var sorted = _sortKeys.AsSpan(0, ids.Length);
        for (int r = 0; r < ids.Length; r++) sorted[r] = ids[r];
        sorted.Sort();
        for (int r = 1; r < sorted.Length; r++)
            if (sorted[r] == sorted[r - 1])
                throw new ArgumentException($"Row {sorted[r]} appears more than once in '{name}'; {what} needs distinct rows.", name);
    }
}
