using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// The handful of vector operations the skinny GEMM kernels need, over one register type
/// <typeparamref name="TVector"/>. The kernels are generic over a struct implementing this, so the JIT
/// compiles a specialized, fully inlined copy of each kernel per SIMD width.
/// </summary>
/// <typeparam name="TVector">the register: <see cref="Vector512{T}"/>, <see cref="Vector256{T}"/> or a float</typeparam>
internal unsafe interface ISkinnyLanes<TVector> where TVector : struct
{
    /// <summary>Floats in one <typeparamref name="TVector"/>.</summary>
    static abstract int Count { get; }

    /// <summary>Loads <see cref="Count"/> floats (no alignment needed).</summary>
    static abstract TVector Load(float* source);

    /// <summary>Stores <see cref="Count"/> floats (no alignment needed).</summary>
    static abstract void Store(TVector value, float* destination);

    /// <summary>Every lane set to <paramref name="value"/>.</summary>
    static abstract TVector Broadcast(float value);

    /// <summary>x·y + addend per lane (fused where the width has an FMA instruction).</summary>
    static abstract TVector MultiplyAdd(TVector x, TVector y, TVector addend);

    /// <summary>The sum of the lanes, in a fixed order.</summary>
    static abstract float Sum(TVector value);
}

/// <summary><see cref="Vector512{T}"/> lanes (AVX-512).</summary>
internal readonly unsafe struct SkinnyLanes512 : ISkinnyLanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* source) => Vector512.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, float* destination) => Vector512.Store(value, destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> x, Vector512<float> y, Vector512<float> addend) =>
        Vector512.FusedMultiplyAdd(x, y, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> value) => Vector512.Sum(value);
}

/// <summary><see cref="Vector256{T}"/> lanes (AVX2-class hardware).</summary>
internal readonly unsafe struct SkinnyLanes256 : ISkinnyLanes<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* source) => Vector256.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, float* destination) => Vector256.Store(value, destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> x, Vector256<float> y, Vector256<float> addend) =>
        Vector256.FusedMultiplyAdd(x, y, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> value) => Vector256.Sum(value);
}

/// <summary>One float per "vector": the portable fallback; multiply-add is not fused (no FMA assumed).</summary>
internal readonly unsafe struct SkinnyLanesScalar : ISkinnyLanes<float>
{
    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(float* source) => *source;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, float* destination) => *destination = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Broadcast(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float x, float y, float addend) => x * y + addend;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(float value) => value;
}
