namespace IlgpuDiffusion.Compute;

/// <summary>
/// A tensor over a buffer of its own, as <see cref="Device.Upload{T}"/> and <see cref="Device.AllocateTensor{T}"/> return
/// it: disposing the owner frees the buffer (<c>using var x = device.Upload(...)</c>). It converts implicitly to the
/// <see cref="Tensor{T}"/> view that ops take; views made from it must not outlive it.
/// </summary>
/// <remarks>
/// Device memory is freed by Dispose only, never by a finalizer (a kernel may still be using it), so an owner never
/// disposed keeps its buffer until its device is disposed.
/// </remarks>
public sealed class OwnedTensor<T> : IDisposable where T : unmanaged
{
    /// <summary>Takes ownership of <paramref name="tensor"/>'s whole buffer.</summary>
    internal OwnedTensor(Tensor<T> tensor) => Tensor = tensor;

    /// <summary>The view covering the owned buffer.</summary>
    public Tensor<T> Tensor { get; }

    /// <summary>The owned buffer.</summary>
    public DeviceBuffer<T> Buffer => Tensor.Buffer;

    /// <summary>Dimensions of the tensor.</summary>
    public Shape Shape => Tensor.Shape;

    /// <summary>Total number of elements.</summary>
    public long Length => Tensor.Length;

    /// <summary>The device the data lives on.</summary>
    public Device Device => Tensor.Device;

    /// <summary>The view of the owned tensor (what the implicit conversion gives).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="owner"/> is null.</exception>
    public static implicit operator Tensor<T>(OwnedTensor<T> owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        return owner.Tensor;
    }

    /// <summary>The view of the owned tensor.</summary>
    public Tensor<T> ToTensor() => Tensor;

    /// <summary>Rows <paramref name="start"/> .. <paramref name="start"/>+<paramref name="count"/> of the first dimension.</summary>
    public Tensor<T> Slice(int start, int count) => Tensor.Slice(start, count);

    /// <summary>The same elements seen with another shape of equal length.</summary>
    public Tensor<T> Reshape(Shape shape) => Tensor.Reshape(shape);

    /// <summary>The elements flattened to one dimension.</summary>
    public Tensor<T> Flatten() => Tensor.Flatten();

    /// <summary>Copies host data into the tensor (lengths must match).</summary>
    public void CopyFrom(ReadOnlySpan<T> source) => Tensor.CopyFrom(source);

    /// <summary>Copies the tensor to host memory (lengths must match).</summary>
    public void CopyTo(Span<T> destination) => Tensor.CopyTo(destination);

    /// <summary>Copies the tensor into a new host array.</summary>
    public T[] ToArray() => Tensor.ToArray();

    /// <summary>Frees the buffer (again: nothing).</summary>
    public void Dispose() => Tensor.Buffer.Dispose();

    /// <inheritdoc/>
    public override string ToString() => Tensor.ToString();
}
