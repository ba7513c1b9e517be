using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

// Ids read back to the host and checked before a launch, as kernels index with them unchecked; the staging
// arrays serve Embedding, Losses, CrossEntropy and Rows. No device code.
internal sealed partial class IlgpuKernels
{
    // Host staging, grown to the largest rows seen (steady-state calls allocate nothing).
    private int[] _hostIds = [];
    private long[] _sortKeys = [];

    /// <summary>
    /// Copies <paramref name="rows"/> ids to the host (a synchronizing copy into a staging array grown to the
    /// largest call, so device scratch is free to reuse afterwards) and throws unless each lies in [0, limit)
    /// and differs from <paramref name="forbidden"/>: kernels index with them unchecked.
    /// </summary>
    private ReadOnlySpan<int> ReadIds(Tensor<int> ids, int rows, int limit, int forbidden, string name, string what)
    {
        Check.Count(ids, rows, name);
        if (_hostIds.Length < rows) _hostIds = new int[rows];
        var hostIds = _hostIds.AsSpan(0, rows);
        ids.Buffer.CopyToHost(ids.Offset, hostIds);
        for (int r = 0; r < rows; r++)
            if ((uint)hostIds[r] >= (uint)limit || hostIds[r] == forbidden)
                throw new ArgumentOutOfRangeException(name, $"'{name}'[{r}] = {hostIds[r]} is not a valid {what}.");
        return hostIds;
    }
}
