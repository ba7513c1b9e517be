using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The one ILGPU <see cref="Context"/> of the process (algorithms enabled, O2), created on
/// first use. A failed kernel compile leaves a context broken; <see cref="Reset"/> makes a new one.
/// </summary>
internal static class IlgpuRuntime
{
    /// <summary>Warp size of the emulated CPU accelerator (small, so tests exercise multi-warp groups).</summary>
    public const int CpuWarpSize = 4;

    /// <summary>Warps per group on the emulated CPU accelerator: groups of at most 16 threads.</summary>
    public const int CpuWarpsPerGroup = 4;

    private static readonly object Gate = new();
    private static Context? s_context;

    /// <summary>The process-wide context.</summary>
    public static Context Context
    {
        get
        {
            lock (Gate)
                return s_context ??= Create();
        }
    }

    /// <summary>True when a CUDA device is present (the driver is loaded and reports at least one device).</summary>
    public static bool HasCuda => Context.GetCudaDevices().Count > 0;

    /// <summary>True when an OpenCL device that ILGPU supports is present.</summary>
    public static bool HasOpenCl => Context.GetCLDevices().Count > 0;

    /// <summary>Disposes the context so the next use creates a fresh one (after a failed compile).</summary>
    public static void Reset()
    {
        lock (Gate)
        {
            s_context?.Dispose();
            s_context = null;
        }
    }

    /// <summary>
    /// A new context with the process context's settings, owned by the caller (the PTX
    /// compilation test uses one so that a failed compile cannot break the shared context).
    /// </summary>
    internal static Context CreateIsolated() => Create();

    private static Context Create() => Context.Create(builder => builder
        .Cuda()
        .OpenCL()
        .CPU(new CPUDevice(CpuWarpSize, CpuWarpsPerGroup, 1))
        .EnableAlgorithms()
        .Optimize(OptimizationLevel.O2));

    /// <summary>
    /// Creates accelerator number <paramref name="index"/> of <paramref name="backend"/>, or explains why none exists.
    /// </summary>
    /// <exception cref="InvalidOperationException">The machine has no device of the backend at all.</exception>
    /// <exception cref="ArgumentException">The machine has devices of the backend, but fewer than <paramref name="index"/> + 1.</exception>
    internal static Accelerator CreateAccelerator(Backend backend, int index)
    {
        var context = Context;
        var (count, device) = backend switch
        {
            Backend.Cuda => Pick(context.GetCudaDevices(), index),
            Backend.OpenCl => Pick(context.GetCLDevices(), index),
            Backend.IlgpuCpu => Pick(context.GetCPUDevices(), index),
            _ => throw new ArgumentOutOfRangeException(nameof(backend), $"{backend} is not an ILGPU backend."),
        };
        if (count == 0)
            throw new InvalidOperationException(backend == Backend.Cuda
                ? "No CUDA device was found (is the NVIDIA driver installed?). Use --device cpu for the SIMD backend."
                : "No OpenCL 2.0+ device with the generic address space was found. Use --device cpu for the SIMD backend.");
        return device?.CreateAccelerator(context) ?? throw new ArgumentException($"There is no {backend.Name()} device {index}: " +
            $"this machine has {count} {backend.Name()} device{(count == 1 ? "" : "s")}, numbered from 0.", nameof(index));
    }

    private static (int Count, ILGPU.Runtime.Device? Device) Pick<T>(Context.DeviceCollection<T> devices, int index)
        where T : ILGPU.Runtime.Device =>
        (devices.Count, index < devices.Count ? devices[index] : null);
}
