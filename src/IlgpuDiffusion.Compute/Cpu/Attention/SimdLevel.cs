using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IlgpuDiffusion.Cpu.Attention;

/// <summary>The vector width the attention micro-kernels run at; <see cref="Simd.Best"/> is the widest this CPU accelerates.</summary>
internal enum SimdLevel
{
    /// <summary>Plain scalar loops (no 256-bit vector hardware).</summary>
    Scalar,

    /// <summary><see cref="Vector256{T}"/>: a 16-float lane is two vectors.</summary>
    Vector256,

    /// <summary><see cref="Vector512{T}"/> with AVX-512F: a 16-float lane is one vector.</summary>
    Vector512,
}

/// <summary>Hardware detection for <see cref="SimdLevel"/>.</summary>
internal static class Simd
{
    /// <summary>Floats per lane: tiles are padded to a multiple of this many columns at every level.</summary>
    public const int Lane = 16;

    /// <summary>The widest level this CPU accelerates.</summary>
    public static SimdLevel Best { get; } =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? SimdLevel.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdLevel.Vector256 : SimdLevel.Scalar;

    /// <summary><paramref name="count"/> rounded up to a whole number of lanes.</summary>
    public static int RoundUp(int count) => (count + Lane - 1) / Lane * Lane;
}
