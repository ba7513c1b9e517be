using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

/// <summary>
/// The SIMD CPU backend of <see cref="IKernels"/>: Vector512/Vector256 loops with scalar
/// tails, parallel over coarse chunks on <see cref="WorkerPool.Shared"/>. One file per op
/// family (CpuKernels.*.cs); each op keeps a cached job object so a call allocates nothing.
/// Not thread-safe: one caller at a time.
/// </summary>
public sealed unsafe partial class CpuKernels : IKernels
{
    /// <summary>Columns per chunk in reductions over rows (bias, modulation, embedding gradients).</summary>
    private const int ColumnBlock = 64;

    /// <summary>Elements per chunk of row-wise ops such as LayerNorm (rows per chunk = grain / channels).</summary>
    private const int RowGrain = 1 << 14;

    private readonly WorkerPool _pool = WorkerPool.Shared;

    /// <summary>
    /// A pinned scratch array of at least <paramref name="length"/> floats, kept in
    /// <paramref name="cache"/> and grown only when a larger shape first appears (warm-up).
    /// </summary>
    private static float* Scratch(ref float[]? cache, long length)
    {
        if (cache is null || cache.Length < length)
            cache = GC.AllocateArray<float>(checked((int)Math.Max(length, 1)), pinned: true);
        return (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(cache));
    }
}
