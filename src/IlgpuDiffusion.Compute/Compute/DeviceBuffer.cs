namespace IlgpuDiffusion.Compute;

/// <summary>
/// One allocation of <typeparamref name="T"/> elements on a device: host memory for the
/// SIMD backend, an ILGPU memory buffer for the ILGPU backends. Tensors are views into it.
/// </summary>
public abstract class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    /// <summary>Number of elements.</summary>
    public abstract long Length { get; }

    /// <summary>The device that owns this buffer.</summary>
    public abstract Device Device { get; }

    /// <summary>Copies <paramref name="source"/> into the buffer starting at element <paramref name="offset"/>.</summary>
    public abstract void CopyFromHost(long offset, ReadOnlySpan<T> source);

    /// <summary>Copies elements starting at <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    public abstract void CopyToHost(long offset, Span<T> destination);

    /// <summary>Releases the memory.</summary>
    public abstract void Dispose();

    /// <summary>Throws unless [offset, offset+count) lies inside the buffer.</summary>
    protected void CheckRange(long offset, long count)
    {
        if (offset < 0 || count < 0 || offset + count > Length)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"Range [{offset}, {offset + count}) is outside a buffer of {Length} elements.");
    }
}
