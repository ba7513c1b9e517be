namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// ILGPU-specific host checks made before a launch, beside the shared <c>Compute.Check</c>:
/// kernels index with 32-bit ints, so element counts must fit in one.
/// </summary>
internal static class HostChecks
{
    /// <summary>A size product that must fit in an int (kernel indices are 32-bit).</summary>
    public static int Product(long a, long b, long c = 1)
    {
        long p = a * b * c;
        if (p > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(a), $"{a}×{b}×{c} elements exceed the 2^31−1 a kernel can index.");
        return (int)p;
    }
}
