using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using Device = IlgpuDiffusion.Compute.Device;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>Accelerator memory for the ILGPU backends; allocation, copies and release hold the device's lock.</summary>
internal sealed class IlgpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    private readonly IlgpuDevice _device;
    private int _disposed;

    internal IlgpuBuffer(IlgpuDevice device, long length)
    {
        _device = device;
        using var scope = device.EnterLock();
        Memory = device.Accelerator.Allocate1D<T>(length);
        // ILGPU frees a buffer in its finalizer; a tensor that the caller no longer references could then lose its memory
        // while a kernel or copy still uses it through a view. Dispose frees it; a tensor never disposed keeps it until its
        // device (GPU) or the process (ILGPU's CPU emulator) ends: a leak, not a crash.
        GC.SuppressFinalize(Memory);
        Memory.MemSetToZero(device.Stream);
        device.OnBufferAllocated(this);
    }

    /// <summary>The ILGPU allocation.</summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Memory { get; }

    /// <summary>What the host knows of an int buffer's values (null for other element types, and until a copy).</summary>
    public HostIdMirror? Ids { get; private set; }

    /// <inheritdoc/>
    public override long Length => Memory.Length;

    /// <inheritdoc/>
    public override Device Device => _device;

    /// <inheritdoc/>
    /// <remarks>
    /// Up to <see cref="PinnedUploads.MaxBytes"/> the copy is queued behind the device's work through page-locked staging,
    /// without waiting (<see cref="PinnedUploads"/>); larger copies wait for the device and copy synchronously.
    /// </remarks>
    public override void CopyFromHost(long offset, ReadOnlySpan<T> source)
    {
        CheckRange(offset, source.Length);
        if (source.IsEmpty) return;
        using var scope = _device.EnterLock();
        var target = Memory.View.SubView(offset, source.Length).AsContiguous();
        if ((long)source.Length * Unsafe.SizeOf<T>() <= PinnedUploads.MaxBytes)
        {
            _device.Uploads.Upload(target, source);
        }
        else
        {
            _device.WaitForQueuedWork();
            // ILGPU's span overloads pin the host memory for the copy; its ref-T overloads expect a pinned address and, given
            // a managed array that a collection moves meanwhile, copy to or from where the array used to be.
            target.CopyFromCPU(_device.Stream, source);
        }
        Remember(offset, source);
    }

    /// <inheritdoc/>
    public override void CopyToHost(long offset, Span<T> destination)
    {
        CheckRange(offset, destination.Length);
        if (destination.IsEmpty) return;
        using var scope = _device.EnterLock();
        _device.WaitForQueuedWork();
        Memory.View.SubView(offset, destination.Length).AsContiguous().CopyToCPU(_device.Stream, destination); // pinned, as CopyFromHost
        Remember(offset, destination);
    }

    private void Remember(long offset, ReadOnlySpan<T> values)
    {
        if (typeof(T) != typeof(int)) return;
        Ids ??= new HostIdMirror(Length);
        Ids.Record(offset, MemoryMarshal.Cast<T, int>(values));
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        using (_device.EnterLock()) Memory.Dispose();
        _device.OnBufferReleased(this);
    }
}

/// <summary>ILGPU views of tensors that live on an ILGPU device.</summary>
internal static class IlgpuTensorExtensions
{
    /// <summary>
    /// The tensor's elements as an ILGPU view; an empty tensor gives <see cref="ArrayView{T}.Empty"/>
    /// (ILGPU asserts on views of zero-length buffers and on empty sub-views at a buffer's end).
    /// </summary>
    public static ArrayView<T> View<T>(this Tensor<T> tensor) where T : unmanaged
    {
        var buffer = tensor.Buffer as IlgpuBuffer<T> ?? throw new ArgumentException(
            $"{tensor} lives on the {tensor.Device.Backend.Name()} device, not on an ILGPU device.");
        return tensor.Length == 0 ? ArrayView<T>.Empty : buffer.Memory.View.SubView(tensor.Offset, tensor.Length);
    }
}
