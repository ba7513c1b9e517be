using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Dynamic shared memory above the 48 KB a CUDA launch may use without opting in: every sm_80+ card allows a block at least
/// 99 KB once the kernel's limit is raised (<see cref="CudaDriver.AllowDynamicSharedBytes"/>; ILGPU binds no such call).
/// Kernels that need it keep a fallback for a driver that refuses. The emulating CPU accelerator has no limit.
/// </summary>
internal static class SharedMemoryOptIn
{
    /// <summary>
    /// Whether a kernel on <paramref name="accelerator"/> may opt in to <paramref name="bytes"/> per block: off CUDA yes; on
    /// a CUDA GPU where its driver reports that much (a driver that cannot tell is taken to refuse).
    /// </summary>
    public static bool Fits(Accelerator accelerator, int bytes)
    {
        if (accelerator is not CudaAccelerator cuda) return true;
        if (CudaDriver.TryLoad(out _) is not { } driver) return false;
        try
        {
            return driver.MaxOptInSharedBytes(cuda.DeviceId) >= bytes;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Raises the loaded <paramref name="kernel"/>'s limit of dynamic shared memory to <paramref name="bytes"/>; false where
    /// the CUDA driver refuses (true off CUDA, which has no limit to raise).
    /// </summary>
    public static bool Allow(Kernel kernel, int bytes)
    {
        if (kernel is not CudaKernel cuda) return true;
        if (CudaDriver.TryLoad(out _) is not { } driver) return false;
        try
        {
            driver.AllowDynamicSharedBytes(cuda.FunctionPtr, bytes);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
