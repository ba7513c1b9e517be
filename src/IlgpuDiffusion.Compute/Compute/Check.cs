namespace IlgpuDiffusion.Compute;

/// <summary>
/// Host-side argument checks shared by every backend, run before a kernel starts: a bad
/// size must become a clear exception, never an out-of-bounds access on a device.
/// </summary>
internal static class Check
{
    /// <summary>Throws unless <paramref name="tensor"/> holds at least <paramref name="count"/> elements and count ≥ 0.</summary>
    public static void Count<T>(Tensor<T> tensor, long count, string name) where T : unmanaged
    {
        if (count < 0)
            throw new ArgumentOutOfRangeException(name, $"Element count for '{name}' must be non-negative; got {count}.");
        if (tensor.Length < count)
            throw new ArgumentException($"'{name}' has {tensor.Length} elements ({tensor.Shape}) but the op needs {count}.", name);
    }

    /// <summary>Like <see cref="Count{T}(Tensor{T}, long, string)"/> for an optional tensor.</summary>
    public static void Count<T>(Tensor<T>? tensor, long count, string name) where T : unmanaged
    {
        if (tensor is { } t) Count(t, count, name);
    }

    /// <summary>Throws unless every size is positive (or zero where <paramref name="allowZero"/>).</summary>
    public static void Sizes(bool allowZero, params ReadOnlySpan<int> sizes)
    {
        foreach (int s in sizes)
            if (s < 0 || (s == 0 && !allowZero))
                throw new ArgumentOutOfRangeException(nameof(sizes),
                    $"Op sizes must be {(allowZero ? "non-negative" : "positive")}; got [{string.Join(", ", sizes.ToArray())}].");
    }

    /// <summary>Throws unless 0 ≤ p &lt; 1.</summary>
    public static void Probability(float p, string name)
    {
        if (!(p >= 0f && p < 1f))
            throw new ArgumentOutOfRangeException(name, $"'{name}' must be in [0, 1); got {p}.");
    }
}
