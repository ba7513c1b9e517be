using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

/// <summary>
/// The SIMD CPU backend of <see cref="IKernels"/>: Vector512/Vector256 loops with scalar
/// tails, parallel over coarse chunks on <see cref="WorkerPool.Shared"/>. One file per op
/// family, <c>CpuKernels.&lt;Family&gt;.cs</c>, with the suffix of the <c>IKernels.&lt;Family&gt;.cs</c>
/// it implements; this file holds what several families share (chunk grains, pinned scratch,
/// checks of class rows and ids). Each op keeps a cached job object so a call allocates nothing.
/// Not thread-safe on its own (the job objects hold the arguments): its device runs one call at a time.
/// </summary>
public sealed unsafe partial class CpuKernels : IKernels
{
    /// <summary>Columns per chunk in reductions over rows (bias, modulation, embedding gradients).</summary>
    private const int ColumnBlock = 64;

    /// <summary>Elements per chunk of row-wise ops such as LayerNorm (rows per chunk = grain / channels).</summary>
    private const int RowGrain = 1 << 14;

    /// <summary>Elements per chunk of memory-bound streaming ops such as Fill and Copy.</summary>
    private const int StreamingGrain = 1 << 16;

    /// <summary>Floats of stack scratch per block when a loss walks a row of classes.</summary>
    internal const int LossBlock = 1024;

    private readonly WorkerPool _pool;

    /// <summary>Kernels that run on the process-wide worker pool.</summary>
    public CpuKernels() : this(WorkerPool.Shared) { }

    /// <summary>Kernels that run their parallel chunks on <paramref name="pool"/>.</summary>
    internal CpuKernels(WorkerPool pool) => _pool = pool;

    /// <summary>
    /// A pinned scratch array of at least <paramref name="length"/> floats, kept in
    /// <paramref name="cache"/> and grown only when a larger shape first appears (warm-up).
    /// </summary>
    private static float* Scratch(ref float[]? cache, long length)
    {
        if (cache is null || cache.Length < length)
            cache = GC.AllocateArray<float>(checked((int)Math.Max(length, 1)), pinned: true);
        return (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(
            ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(cache));
    }

    /// <summary>
    /// Throws unless each of the first <paramref name="rows"/> ids is in [0, limit) and differs from <paramref name="forbidden"/>.
    /// </summary>
    private static void CheckIds(Tensor<int> ids, int rows, int limit, int forbidden, string name)
    {
        Check.Count(ids, rows, name);
        var span = ids.AsSpan()[..rows];
        for (int r = 0; r < span.Length; r++)
            if ((uint)span[r] >= (uint)limit || span[r] == forbidden)
                throw new ArgumentOutOfRangeException(name,
                    $"'{name}'[{r}] = {span[r]} is not a valid id (must be in [0, {limit}) and not MASK {forbidden}).");
    }
}
