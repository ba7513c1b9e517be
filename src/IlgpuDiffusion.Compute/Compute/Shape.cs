namespace IlgpuDiffusion.Compute;

/// <summary>
/// The shape of a tensor view: up to four dimensions held inline, so that making or
/// slicing a view never allocates.
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    /// <summary>The largest rank a shape can have.</summary>
    public const int MaxRank = 4;

    private readonly int _d0, _d1, _d2, _d3;

    /// <summary>Number of dimensions (0 for a scalar).</summary>
    public int Rank { get; }

    /// <summary>Creates a shape from its dimensions (outermost first).</summary>
    public Shape(params ReadOnlySpan<int> dims)
    {
        if (dims.Length > MaxRank)
            throw new ArgumentException($"A shape has at most {MaxRank} dimensions; got {dims.Length}.", nameof(dims));
        foreach (int d in dims)
            if (d < 0)
                throw new ArgumentException(
                    $"Shape dimensions must be non-negative; got [{string.Join(", ", dims.ToArray())}].", nameof(dims));
        Rank = dims.Length;
        _d0 = dims.Length > 0 ? dims[0] : 1;
        _d1 = dims.Length > 1 ? dims[1] : 1;
        _d2 = dims.Length > 2 ? dims[2] : 1;
        _d3 = dims.Length > 3 ? dims[3] : 1;
    }

    /// <summary>Dimension <paramref name="axis"/> (negative counts from the end).</summary>
    public int this[int axis]
    {
        get
        {
            int a = axis < 0 ? axis + Rank : axis;
            if ((uint)a >= (uint)Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"Axis {axis} is outside a rank-{Rank} shape.");
            return a switch { 0 => _d0, 1 => _d1, 2 => _d2, _ => _d3 };
        }
    }

    /// <summary>Total number of elements.</summary>
    public long Length => Rank == 0 ? 1 : (long)_d0 * _d1 * _d2 * _d3;

    /// <summary>The same shape with the first dimension replaced.</summary>
    public Shape WithFirst(int first) => Rank switch
    {
        1 => new Shape(first),
        2 => new Shape(first, _d1),
        3 => new Shape(first, _d1, _d2),
        4 => new Shape(first, _d1, _d2, _d3),
        _ => throw new InvalidOperationException("A scalar shape has no first dimension."),
    };

    /// <summary>Number of elements in one step of the first dimension.</summary>
    public long InnerLength => Rank == 0 ? 1 : Length / Math.Max(1, _d0);

    /// <inheritdoc/>
    public bool Equals(Shape other) =>
        Rank == other.Rank && _d0 == other._d0 && _d1 == other._d1 && _d2 == other._d2 && _d3 == other._d3;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Rank, _d0, _d1, _d2, _d3);

    /// <summary>Equality of shapes.</summary>
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);

    /// <summary>Inequality of shapes.</summary>
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);

    /// <inheritdoc/>
    public override string ToString() => Rank switch
    {
        0 => "[]",
        1 => $"[{_d0}]",
        2 => $"[{_d0}, {_d1}]",
        3 => $"[{_d0}, {_d1}, {_d2}]",
        _ => $"[{_d0}, {_d1}, {_d2}, {_d3}]",
    };
}
