using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

/// <summary>
/// The SIMD CPU backend of <see cref="IKernels"/>: Vector512/Vector256 loops with scalar
/// tails, parallel over coarse chunks on <see cref="WorkerPool.Shared"/>. One file per op
/// family (CpuKernels.*.cs); each op keeps a cached job object so a call allocates nothing.
/// Not thread-safe: one caller at a time.
/// </summary>
public sealed partial class CpuKernels : IKernels
{
    private readonly WorkerPool _pool = WorkerPool.Shared;
}
