using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

// Ids checked on the host before a launch, as kernels index with them unchecked: from the buffer's host mirror when the
// ids came from the host, else read back; the staging arrays serve Embedding, Losses, CrossEntropy and Rows. No device code.
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
}
