using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Kernels;

/// <summary>
/// Shape checks made on the host before every launch: an out-of-bounds access on the
/// ILGPU CPU accelerator kills the process, and on a GPU it corrupts memory silently.
/// </summary>
internal static class HostChecks
{
    /// <summary>Throws unless every size is non-negative.</summary>
    public static void Sizes(int a, string nameA, int b = 0, string nameB = "", int c = 0, string nameC = "")
    {
        if (a < 0) throw new ArgumentOutOfRangeException(nameA, $"{nameA} must be non-negative; got {a}.");
        if (b < 0) throw new ArgumentOutOfRangeException(nameB, $"{nameB} must be non-negative; got {b}.");
        if (c < 0) throw new ArgumentOutOfRangeException(nameC, $"{nameC} must be non-negative; got {c}.");
    }

    /// <summary>Throws unless <paramref name="tensor"/> holds at least <paramref name="needed"/> elements.</summary>
    public static void Holds<T>(Tensor<T> tensor, long needed, string name) where T : unmanaged
    {
        if (tensor.Length < needed)
            throw new ArgumentException($"{name} ({tensor}) holds {tensor.Length} elements; the call needs {needed}.", name);
    }

    /// <summary>A size product that must fit in an int (kernel indices are 32-bit).</summary>
    public static int Product(long a, long b, long c = 1)
    {
        long p = a * b * c;
        if (p > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(a), $"{a}×{b}×{c} elements exceed the 2^31−1 a kernel can index.");
        return (int)p;
    }
}
