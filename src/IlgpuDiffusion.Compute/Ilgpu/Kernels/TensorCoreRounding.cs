using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The input rounding of the tensor-core GEMMs, bit for bit as the PTX conversions do it, for the kernels' emulation on
/// accelerators without tensor cores and for the reference that the tests compare tensor-core results against.
/// </summary>
internal static class TensorCoreRounding
{
    /// <summary>
    /// <c>cvt.rna.tf32.f32</c>: x rounded to 10 mantissa bits, to nearest with ties away from zero, as fp32 bits (the 13
    /// low bits zero); infinities unchanged, NaNs quiet NaNs (a NaN whose payload sat in the low bits alone would
    /// otherwise read as an infinity). Branch-free integer arithmetic: the GEMM kernels round every staged TF32 input
    /// with it, on GPUs as well.
    /// </summary>
    public static uint Tf32Bits(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        bool nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
        return nan ? (bits | 0x00400000u) & 0xFFFFE000u : NumberTf32Bits(bits);
    }

    /// <summary>x rounded to TF32, as an fp32 value.</summary>
    public static float Tf32(float x) => Interop.IntAsFloat(Tf32Bits(x));

    /// <summary>
    /// <see cref="Tf32"/> of an x known not to be a NaN (finite or infinite), without the NaN test: two integer operations.
    /// </summary>
    public static float NumberTf32(float x) => Interop.IntAsFloat(NumberTf32Bits(Interop.FloatAsInt(x)));

    private static uint NumberTf32Bits(uint bits) => (bits + 0x1000u) & 0xFFFFE000u;

    /// <summary>
    /// <c>cvt.rn.bf16</c>: x rounded to 7 mantissa bits, to nearest with ties to even, as the 16 BF16 bits; NaNs stay
    /// (quiet) NaNs.
    /// </summary>
    public static uint Bf16Bits(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu) != 0) return (bits >> 16) | 0x0040u;
        return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    }

    /// <summary>x rounded to BF16, as an fp32 value.</summary>
    public static float Bf16(float x) => Interop.IntAsFloat(Bf16Bits(x) << 16);
}
