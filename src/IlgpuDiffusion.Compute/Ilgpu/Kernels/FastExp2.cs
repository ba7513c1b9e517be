using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// 2^x for the tensor-core attention's softmax, which works in base 2 as FlashAttention-2 does (arXiv 2307.08691):
/// p = 2^(score·scale·log₂e − shift) is one multiply-add and one <c>ex2.approx.ftz.f32</c> on CUDA (a single MUFU.EX2,
/// relative error about 2⁻²²). MathF.Exp lowers to a multiply by log₂e and <c>ex2.approx.f32</c>, which ptxas wraps in a
/// range fix-up for subnormal results (three more instructions per probability). Results below 2⁻¹²⁶ are flushed to
/// zero; elsewhere (ILGPU's CPU accelerator) float.Exp2 with the same flush.
/// </summary>
internal static class FastExp2
{
    /// <summary>log₂ e: exp(x) = 2^(x·log₂ e).</summary>
    public const float Log2E = 1.44269504f;

    /// <summary>The smallest normal float: results below it are flushed to zero, as .ftz does.</summary>
    private const float SmallestNormal = 1.17549435e-38f;

    /// <summary>2^<paramref name="x"/>, 0 for −∞ and for results below 2⁻¹²⁶.</summary>
    public static float Of(float x)
    {
        if (!CudaAsm.IsSupported)
        {
            float y = float.Exp2(x);
            return y < SmallestNormal ? 0f : y;
        }
        CudaAsm.Emit("ex2.approx.ftz.f32 %0, %1;", out float result, x);
        return result;
    }
}
