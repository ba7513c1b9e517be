using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using Device = IlgpuDiffusion.Compute.Device;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>A device backed by an ILGPU accelerator (CUDA, OpenCL, or the CPU emulator for tests).</summary>
internal sealed class IlgpuDevice : Device
{
    private IlgpuDevice(Backend backend, Accelerator accelerator)
    {
        Backend = backend;
        Accelerator = accelerator;
        Kernels = new IlgpuKernels(accelerator);
    }

    /// <summary>Opens the first accelerator of <paramref name="backend"/>.</summary>
    public static IlgpuDevice Open(Backend backend) => new(backend, IlgpuRuntime.CreateAccelerator(backend));

    /// <summary>The ILGPU accelerator.</summary>
    public Accelerator Accelerator { get; }

    /// <inheritdoc/>
    public override Backend Backend { get; }

    /// <inheritdoc/>
    /// <remarks>The CPU emulator reports no real memory size (long.MaxValue), so it says "host memory".</remarks>
    public override string Description =>
        $"{Accelerator.Name} ({Backend.Name()}, {Memory}, warp {Accelerator.WarpSize}, max group {Accelerator.MaxNumThreadsPerGroup})";

    private string Memory => Accelerator.AcceleratorType == AcceleratorType.CPU
        ? "host memory"
        : $"{Accelerator.MemorySize / (1024.0 * 1024 * 1024):F1} GiB";

    /// <inheritdoc/>
    public override IKernels Kernels { get; }

    /// <inheritdoc/>
    public override DeviceBuffer<T> Allocate<T>(long length) => new IlgpuBuffer<T>(this, length);

    /// <inheritdoc/>
    public override void Synchronize() => Accelerator.Synchronize();

    /// <inheritdoc/>
    public override void Dispose() => Accelerator.Dispose();
}
