using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using V16 = System.Runtime.Intrinsics.Vector512<float>;
using V8 = System.Runtime.Intrinsics.Vector256<float>;

namespace IlgpuDiffusion.Cpu.Attention;

/// <summary>
/// 2^x for softmax in base 2 (scores are pre-multiplied by log2 e): x = n + f with n = round(x),
/// f ∈ [−½, ½], 2^f by the Cephes exp2f polynomial (relative error ≈ 1.5e-7), then times 2^n.
/// Vector256 and scalar: 2^n through the exponent bits, x clamped to [−127, 127], so x ≤ −126.5
/// (masked scores, −∞ included) gives exactly 0.
/// </summary>
internal static class Exp2
{
    private const float P0 = 1.535336188319500E-4f, P1 = 1.339887440266574E-3f, P2 = 9.618437357674640E-3f;
    private const float P3 = 5.550332471162809E-2f, P4 = 2.402264791363012E-1f, P5 = 6.931472028550421E-1f;

    /// <summary>
    /// 2^x on 16 lanes for x ≤ 127. AVX-512's vscalefps applies 2^n directly; there x is clamped at −126
    /// instead, so masked scores (−∞) weigh 2^−126 ≈ 1.2e-38 rather than 0, and nothing is denormal.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V16 Of(V16 x)
    {
        x = Vector512.MaxNative(x, Vector512.Create(-126f));
        V16 n = Vector512.Round(x);
        V16 f = x - n;
        V16 p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), f, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, f, V16.One);
        return Avx512F.Scale(p, n);
    }

    /// <summary>2^x on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V8 Of(V8 x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-127f)), Vector256.Create(127f));
        V8 n = Vector256.Round(x);
        V8 f = x - n;
        V8 p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), f, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, f, V8.One);
        Vector256<int> bits = (Vector256.ConvertToInt32Native(n) + Vector256.Create(127)) << 23;
        return p * bits.AsSingle();
    }

    /// <summary>2^x in scalar code (the <see cref="SimdLevel.Scalar"/> path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Of(float x) => float.Exp2(x);
}
