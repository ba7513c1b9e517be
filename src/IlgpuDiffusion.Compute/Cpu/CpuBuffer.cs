using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

/// <summary>Host memory for the SIMD backend: a pinned array, so kernels may hold raw pointers across threads.</summary>
public sealed unsafe class CpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    private readonly CpuDevice _device;
    private int _disposed;

    internal CpuBuffer(CpuDevice device, long length)
    {
        if (length > System.Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(length),
                $"The CPU backend holds at most {System.Array.MaxLength} elements per buffer; asked for {length}.");
        _device = device;
        Array = GC.AllocateArray<T>((int)length, pinned: true);
        Pointer = (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Array));
        device.OnBufferAllocated(this);
    }

    /// <summary>The pinned backing array.</summary>
    public T[] Array { get; }

    /// <summary>Address of element 0 (stable: the array is pinned).</summary>
    public T* Pointer { get; }

    /// <inheritdoc/>
    public override long Length => Array.Length;

    /// <inheritdoc/>
    public override Device Device => _device;

    /// <inheritdoc/>
    public override void CopyFromHost(long offset, ReadOnlySpan<T> source)
    {
        CheckRange(offset, source.Length);
        source.CopyTo(Array.AsSpan((int)offset, source.Length));
    }

    /// <inheritdoc/>
    public override void CopyToHost(long offset, Span<T> destination)
    {
        CheckRange(offset, destination.Length);
        Array.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc/>
    /// <remarks>The array itself is the GC's to reclaim; disposing only takes the buffer off its device's count.</remarks>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _device.OnBufferReleased(this);
    }
}

/// <summary>Raw access to tensors that live on the CPU backend.</summary>
public static unsafe class CpuTensorExtensions
{
    /// <summary>Pointer to the first element of a CPU tensor.</summary>
    public static T* Pointer<T>(this Tensor<T> tensor) where T : unmanaged => Host(tensor).Pointer + tensor.Offset;

    /// <summary>Pointer to the first element, or null for a missing optional tensor.</summary>
    public static T* Pointer<T>(this Tensor<T>? tensor) where T : unmanaged => tensor is { } t ? t.Pointer() : null;

    /// <summary>The elements of a CPU tensor as a span.</summary>
    public static Span<T> AsSpan<T>(this Tensor<T> tensor) where T : unmanaged =>
        Host(tensor).Array.AsSpan((int)tensor.Offset, checked((int)tensor.Length));

    private static CpuBuffer<T> Host<T>(Tensor<T> tensor) where T : unmanaged =>
        tensor.Buffer as CpuBuffer<T> ?? throw new ArgumentException(
            $"{tensor} lives on the {tensor.Device.Backend.Name()} device, not on the CPU backend.");
}
