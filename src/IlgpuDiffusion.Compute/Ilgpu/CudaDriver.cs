using System.Runtime.InteropServices;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The CUDA driver calls that ILGPU does not expose: for NCCL's use of a GPU, the device's primary context (the one the CUDA runtime, and
/// so NCCL, works in), switching the calling thread's current context, memory of that context, and copies between contexts; for kernels,
/// raising a kernel's limit of dynamic shared memory past the 48 KB every launch gets. Bound at run time to <c>libcuda.so.1</c>, the driver
/// library ILGPU's CUDA backend loads too; signatures as cuda.h declares them (<c>CUdevice</c> is an int, <c>CUcontext</c> a pointer,
/// <c>CUdeviceptr</c> 64 bits).
/// </summary>
internal sealed unsafe class CudaDriver
{
    private const string FileName = "libcuda.so.1";
    private static readonly Lazy<(CudaDriver? Driver, string Reason)> Loaded = new(Load);

    private readonly delegate* unmanaged<int*, int, int> _deviceGet;
    private readonly delegate* unmanaged<nint*, int, int> _primaryCtxRetain;
    private readonly delegate* unmanaged<int, int> _primaryCtxRelease;
    private readonly delegate* unmanaged<nint*, int> _ctxGetCurrent;
    private readonly delegate* unmanaged<nint, int> _ctxSetCurrent;
    private readonly delegate* unmanaged<int> _ctxSynchronize;
    private readonly delegate* unmanaged<ulong*, nuint, int> _memAlloc;
    private readonly delegate* unmanaged<ulong, int> _memFree;
    private readonly delegate* unmanaged<ulong, nint, ulong, nint, nuint, int> _memcpyPeer;
    private readonly delegate* unmanaged<int, byte**, int> _getErrorString;
    private readonly delegate* unmanaged<int*, int, int, int> _deviceGetAttribute;
    private readonly delegate* unmanaged<nint, int, int, int> _funcSetAttribute;

    /// <summary><c>CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN</c>: the most a kernel may opt in to.</summary>
    private const int MaxSharedMemoryPerBlockOptIn = 97;

    /// <summary><c>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES</c>: a kernel's limit of dynamic shared memory.</summary>
    private const int MaxDynamicSharedSizeBytes = 8;

    private CudaDriver(nint handle)
    {
        _deviceGet = (delegate* unmanaged<int*, int, int>)Export(handle, "cuDeviceGet");
        _primaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Export(handle, "cuDevicePrimaryCtxRetain");
        _primaryCtxRelease = (delegate* unmanaged<int, int>)Export(handle, "cuDevicePrimaryCtxRelease_v2");
        _ctxGetCurrent = (delegate* unmanaged<nint*, int>)Export(handle, "cuCtxGetCurrent");
        _ctxSetCurrent = (delegate* unmanaged<nint, int>)Export(handle, "cuCtxSetCurrent");
        _ctxSynchronize = (delegate* unmanaged<int>)Export(handle, "cuCtxSynchronize");
        _memAlloc = (delegate* unmanaged<ulong*, nuint, int>)Export(handle, "cuMemAlloc_v2");
        _memFree = (delegate* unmanaged<ulong, int>)Export(handle, "cuMemFree_v2");
        _memcpyPeer = (delegate* unmanaged<ulong, nint, ulong, nint, nuint, int>)Export(handle, "cuMemcpyPeer");
        _getErrorString = (delegate* unmanaged<int, byte**, int>)Export(handle, "cuGetErrorString");
        _deviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export(handle, "cuDeviceGetAttribute");
        _funcSetAttribute = (delegate* unmanaged<nint, int, int, int>)Export(handle, "cuFuncSetAttribute");
    }

    /// <summary>The process's CUDA driver, or null with <paramref name="reason"/> saying why there is none.</summary>
    public static CudaDriver? TryLoad(out string reason)
    {
        (CudaDriver? driver, reason) = Loaded.Value;
        return driver;
    }

    /// <summary>Retains the primary context of CUDA device <paramref name="ordinal"/> (creating it on first use).</summary>
    public nint RetainPrimaryContext(int ordinal)
    {
        int device;
        Check(_deviceGet(&device, ordinal), "cuDeviceGet");
        nint context;
        Check(_primaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
        return context;
    }

    /// <summary>Releases one retain of device <paramref name="ordinal"/>'s primary context.</summary>
    public void ReleasePrimaryContext(int ordinal)
    {
        int device;
        Check(_deviceGet(&device, ordinal), "cuDeviceGet");
        Check(_primaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
    }

    /// <summary>The context current to the calling thread (0 when none is).</summary>
    public nint CurrentContext
    {
        get
        {
            nint context;
            Check(_ctxGetCurrent(&context), "cuCtxGetCurrent");
            return context;
        }
        set => Check(_ctxSetCurrent(value), "cuCtxSetCurrent");
    }

    /// <summary>Waits until the current context's queued work has finished; reports its errors.</summary>
    public void Synchronize() => Check(_ctxSynchronize(), "cuCtxSynchronize");

    /// <summary>Allocates <paramref name="bytes"/> of device memory in the current context.</summary>
    public nint Allocate(long bytes)
    {
        ulong address;
        Check(_memAlloc(&address, (nuint)bytes), "cuMemAlloc");
        return (nint)address;
    }

    /// <summary>Frees memory from <see cref="Allocate"/>.</summary>
    public void Free(nint address) => Check(_memFree((ulong)address), "cuMemFree");

    /// <summary>
    /// Copies <paramref name="bytes"/> from <paramref name="source"/> in <paramref name="sourceContext"/> to
    /// <paramref name="destination"/> in <paramref name="destinationContext"/>, after all work queued in either context (and
    /// the current one); returns before the copy may have finished.
    /// </summary>
    public void CopyBetweenContexts(nint destination, nint destinationContext, nint source, nint sourceContext, long bytes) =>
        Check(_memcpyPeer((ulong)destination, destinationContext, (ulong)source, sourceContext, (nuint)bytes), "cuMemcpyPeer");

    /// <summary>The most dynamic shared memory one block of a kernel may opt in to on CUDA device <paramref name="ordinal"/>.</summary>
    public int MaxOptInSharedBytes(int ordinal)
    {
        int device, bytes;
        Check(_deviceGet(&device, ordinal), "cuDeviceGet");
        Check(_deviceGetAttribute(&bytes, MaxSharedMemoryPerBlockOptIn, device), "cuDeviceGetAttribute");
        return bytes;
    }

    /// <summary>
    /// Lets launches of <paramref name="function"/> (a <c>CUfunction</c>) use up to <paramref name="bytes"/> of dynamic shared
    /// memory.
    /// </summary>
    public void AllowDynamicSharedBytes(nint function, int bytes) =>
        Check(_funcSetAttribute(function, MaxDynamicSharedSizeBytes, bytes), "cuFuncSetAttribute");

    private void Check(int result, string call)
    {
        if (result == 0) return;
        byte* text = null;
        string description = _getErrorString(result, &text) == 0 && text != null
            ? Marshal.PtrToStringUTF8((nint)text) ?? "" : "";
        throw new InvalidOperationException($"The CUDA driver call {call} failed with error {result}" +
            (description.Length > 0 ? $" ({description})" : "") + ".");
    }

    private static (CudaDriver?, string) Load()
    {
        if (!NativeLibrary.TryLoad(FileName, out nint handle))
            return (null, $"the CUDA driver's {FileName} could not be opened");
        try
        {
            return (new CudaDriver(handle), "");
        }
        catch (EntryPointNotFoundException ex)
        {
            return (null, ex.Message);
        }
    }

    private static nint Export(nint handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out nint address) ? address
        : throw new EntryPointNotFoundException($"the CUDA driver's {FileName} lacks {name}: the driver is older than CUDA 11");
}
