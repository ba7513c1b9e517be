namespace IlgpuDiffusion.Compute;

/// <summary>
/// A view into a <see cref="DeviceBuffer{T}"/>: buffer + element offset + shape, dense
/// row-major. A view never owns memory; making and slicing views never allocates.
/// </summary>
public readonly struct Tensor<T> where T : unmanaged
{
    /// <summary>The buffer this view reads and writes.</summary>
    public DeviceBuffer<T> Buffer { get; }

    /// <summary>Element offset of the first element inside <see cref="Buffer"/>.</summary>
    public long Offset { get; }

    /// <summary>Dimensions of the view.</summary>
    public Shape Shape { get; }

    /// <summary>Creates a view; throws when it does not fit in the buffer.</summary>
    public Tensor(DeviceBuffer<T> buffer, long offset, Shape shape)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (offset < 0 || offset + shape.Length > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"A {shape} view at offset {offset} does not fit in a buffer of {buffer.Length} elements.");
        Buffer = buffer;
        Offset = offset;
        Shape = shape;
    }

    /// <summary>Total number of elements.</summary>
    public long Length => Shape.Length;

    /// <summary>The device the data lives on.</summary>
    public Device Device => Buffer.Device;

    /// <summary>Rows <paramref name="start"/> .. <paramref name="start"/>+<paramref name="count"/> of the first dimension.</summary>
    public Tensor<T> Slice(int start, int count)
    {
        int rows = Shape[0];
        if (start < 0 || count < 0 || start + count > rows)
            throw new ArgumentOutOfRangeException(nameof(start), $"Rows [{start}, {start + count}) are outside a {Shape} tensor.");
        return new Tensor<T>(Buffer, Offset + start * Shape.InnerLength, Shape.WithFirst(count));
    }

    /// <summary>The same elements seen with another shape of equal length.</summary>
    public Tensor<T> Reshape(Shape shape)
    {
        if (shape.Length != Length)
            throw new ArgumentException(
                $"Cannot view a {Shape} tensor ({Length} elements) as {shape} ({shape.Length} elements).", nameof(shape));
        return new Tensor<T>(Buffer, Offset, shape);
    }

    /// <summary>The elements flattened to one dimension.</summary>
    public Tensor<T> Flatten() => new(Buffer, Offset, new Shape(checked((int)Length)));

    /// <summary>Copies host data into this view (lengths must match).</summary>
    public void CopyFrom(ReadOnlySpan<T> source)
    {
        if (source.Length != Length)
            throw new ArgumentException($"Source has {source.Length} elements; the {Shape} tensor has {Length}.", nameof(source));
        Buffer.CopyFromHost(Offset, source);
    }

    /// <summary>Copies this view to host memory (lengths must match).</summary>
    public void CopyTo(Span<T> destination)
    {
        if (destination.Length != Length)
            throw new ArgumentException(
                $"Destination has {destination.Length} elements; the {Shape} tensor has {Length}.", nameof(destination));
        Buffer.CopyToHost(Offset, destination);
    }

    /// <summary>Copies this view into a new host array (for tests and step boundaries, not hot loops).</summary>
    public T[] ToArray()
    {
        var result = new T[Length];
        CopyTo(result);
        return result;
    }

    /// <inheritdoc/>
    public override string ToString() => $"Tensor<{typeof(T).Name}>{Shape} @ {Offset}";
}
