using System.Numerics;
using System.Runtime.Intrinsics;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

/// <summary>The managed SIMD backend: host memory and <see cref="CpuKernels"/>.</summary>
internal sealed class CpuDevice : Device
{
    /// <summary>Opens the CPU backend on the shared worker pool.</summary>
    public CpuDevice() => Kernels = new DeviceKernels(this, new CpuKernels());

    /// <inheritdoc/>
    public override Backend Backend => Backend.Cpu;

    /// <inheritdoc/>
    public override string Description =>
        $"CPU (managed SIMD, {WorkerPool.Shared.Threads} threads, " +
        (Vector512.IsHardwareAccelerated ? "AVX-512"
            : Vector256.IsHardwareAccelerated ? "256-bit vectors"
            : $"{Vector<float>.Count}-wide vectors") + ")";

    /// <inheritdoc/>
    public override IKernels Kernels { get; }

    /// <inheritdoc/>
    public override DeviceBuffer<T> Allocate<T>(long length) => new CpuBuffer<T>(this, length);

    /// <inheritdoc/>
    public override void Synchronize() { }

    /// <inheritdoc/>
    public override void Dispose() { }
}
