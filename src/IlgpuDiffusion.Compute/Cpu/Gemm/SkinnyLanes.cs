using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>
/// The handful of operations the skinny GEMM kernels need at one SIMD width, over one register type
/// <typeparamref name="TVector"/>, and the depth blocking of the blocked path's micro-kernel at that width. The kernels
/// are generic over a struct implementing this, so the JIT compiles a specialized, fully inlined copy per width.
/// </summary>
/// <typeparam name="TVector">the register: <see cref="Vector512{T}"/>, <see cref="Vector256{T}"/> or a float</typeparam>
internal unsafe interface ISkinnyLanes<TVector> where TVector : struct
{
    /// <summary>Floats in one <typeparamref name="TVector"/>.</summary>
    static abstract int Count { get; }

    /// <summary>
    /// Depth block of the blocked path's micro-kernel at this width (<see cref="IMicroKernel.Kc"/>): the skinny kernels
    /// sum each element over the same blocks in the same order, so a row of c has the same bits on either path.
    /// </summary>
    static abstract int DepthBlock { get; }

    /// <summary>Loads <see cref="Count"/> floats (no alignment needed).</summary>
    static abstract TVector Load(float* source);

    /// <summary>Stores <see cref="Count"/> floats (no alignment needed).</summary>
    static abstract void Store(TVector value, float* destination);

    /// <summary>Every lane set to <paramref name="value"/>.</summary>
    static abstract TVector Broadcast(float value);

    /// <summary>x·y + addend per lane, rounded as the blocked path's micro-kernel at this width rounds it.</summary>
    static abstract TVector MultiplyAdd(TVector x, TVector y, TVector addend);

    /// <summary>One lane of <see cref="MultiplyAdd"/>: the same bits as the vector operation gives in a lane.</summary>
    static abstract float MultiplyAddLane(float x, float y, float addend);

    /// <summary>x + y per lane.</summary>
    static abstract TVector Add(TVector x, TVector y);

    /// <summary>
    /// Transposes a <see cref="Count"/>×<see cref="Count"/> block: destination[q·destinationStride + r] =
    /// source[r·sourceStride + q].
    /// </summary>
    static abstract void Transpose(float* source, long sourceStride, float* destination, int destinationStride);
}

/// <summary><see cref="Vector512{T}"/> lanes (AVX-512), as <see cref="MicroKernel512"/>.</summary>
internal readonly unsafe struct SkinnyLanes512 : ISkinnyLanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    public static int DepthBlock => MicroKernel512.Kc;

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
    public static float MultiplyAddLane(float x, float y, float addend) => MathF.FusedMultiplyAdd(x, y, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> x, Vector512<float> y) => x + y;

    /// <summary>16×16 transpose in registers: unpack pairs of rows, then pairs of pairs, then two 128-bit shuffles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose(float* source, long sourceStride, float* destination, int destinationStride)
    {
        if (!Avx512F.IsSupported)
        {
            SkinnyTranspose.Scalar(16, source, sourceStride, destination, destinationStride);
            return;
        }
        // t: rows 2i and 2i+1 interleaved; u: columns {q, q+4, q+8, q+12} of four rows per 128-bit block.
        var (u0, u1, u2, u3) = Quad(source, sourceStride);
        var (u4, u5, u6, u7) = Quad(source + 4 * sourceStride, sourceStride);
        var (u8, u9, u10, u11) = Quad(source + 8 * sourceStride, sourceStride);
        var (u12, u13, u14, u15) = Quad(source + 12 * sourceStride, sourceStride);
        float* d = destination;
        int s = destinationStride;
        Columns(u0, u4, u8, u12, d, d + 8 * s, d + 4 * s, d + 12 * s);
        Columns(u1, u5, u9, u13, d + s, d + 9 * s, d + 5 * s, d + 13 * s);
        Columns(u2, u6, u10, u14, d + 2 * s, d + 10 * s, d + 6 * s, d + 14 * s);
        Columns(u3, u7, u11, u15, d + 3 * s, d + 11 * s, d + 7 * s, d + 15 * s);
    }

    /// <summary>Four rows r0..r3 → u_q = [column q | q+4 | q+8 | q+12] of the four rows, one 128-bit block each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) Quad(float* row, long stride)
    {
        Vector512<float> r0 = Vector512.Load(row), r1 = Vector512.Load(row + stride);
        Vector512<float> r2 = Vector512.Load(row + 2 * stride), r3 = Vector512.Load(row + 3 * stride);
        Vector512<double> t0 = Avx512F.UnpackLow(r0, r1).AsDouble(), t1 = Avx512F.UnpackHigh(r0, r1).AsDouble();
        Vector512<double> t2 = Avx512F.UnpackLow(r2, r3).AsDouble(), t3 = Avx512F.UnpackHigh(r2, r3).AsDouble();
        return (Avx512F.UnpackLow(t0, t2).AsSingle(), Avx512F.UnpackHigh(t0, t2).AsSingle(),
            Avx512F.UnpackLow(t1, t3).AsSingle(), Avx512F.UnpackHigh(t1, t3).AsSingle());
    }

    /// <summary>
    /// The u_q of rows 0–3, 4–7, 8–11, 12–15 → columns q, q+8, q+4, q+12 (all sixteen rows each), stored at the four
    /// destinations.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(Vector512<float> rows0, Vector512<float> rows4, Vector512<float> rows8, Vector512<float> rows12,
        float* column, float* columnPlus8, float* columnPlus4, float* columnPlus12)
    {
        // 0x88 takes 128-bit blocks 0 and 2 of each source, 0xDD blocks 1 and 3.
        Vector512<float> low0 = Avx512F.Shuffle4x128(rows0, rows4, 0x88), high0 = Avx512F.Shuffle4x128(rows0, rows4, 0xDD);
        Vector512<float> low8 = Avx512F.Shuffle4x128(rows8, rows12, 0x88), high8 = Avx512F.Shuffle4x128(rows8, rows12, 0xDD);
        Vector512.Store(Avx512F.Shuffle4x128(low0, low8, 0x88), column);
        Vector512.Store(Avx512F.Shuffle4x128(low0, low8, 0xDD), columnPlus8);
        Vector512.Store(Avx512F.Shuffle4x128(high0, high8, 0x88), columnPlus4);
        Vector512.Store(Avx512F.Shuffle4x128(high0, high8, 0xDD), columnPlus12);
    }
}

/// <summary><see cref="Vector256{T}"/> lanes (AVX2-class hardware), as <see cref="MicroKernel256"/>.</summary>
internal readonly unsafe struct SkinnyLanes256 : ISkinnyLanes<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;

    public static int DepthBlock => MicroKernel256.Kc;

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
    public static float MultiplyAddLane(float x, float y, float addend) => MathF.FusedMultiplyAdd(x, y, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> x, Vector256<float> y) => x + y;

    /// <summary>8×8 transpose in registers: unpack pairs of rows, then pairs of pairs, then swap 128-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose(float* source, long sourceStride, float* destination, int destinationStride)
    {
        if (!Avx.IsSupported)
        {
            SkinnyTranspose.Scalar(8, source, sourceStride, destination, destinationStride);
            return;
        }
        var (u0, u1, u2, u3) = Quad(source, sourceStride);
        var (u4, u5, u6, u7) = Quad(source + 4 * sourceStride, sourceStride);
        float* d = destination;
        int s = destinationStride;
        Vector256.Store(Avx.Permute2x128(u0, u4, 0x20), d); Vector256.Store(Avx.Permute2x128(u0, u4, 0x31), d + 4 * s);
        Vector256.Store(Avx.Permute2x128(u1, u5, 0x20), d + s); Vector256.Store(Avx.Permute2x128(u1, u5, 0x31), d + 5 * s);
        Vector256.Store(Avx.Permute2x128(u2, u6, 0x20), d + 2 * s); Vector256.Store(Avx.Permute2x128(u2, u6, 0x31), d + 6 * s);
        Vector256.Store(Avx.Permute2x128(u3, u7, 0x20), d + 3 * s); Vector256.Store(Avx.Permute2x128(u3, u7, 0x31), d + 7 * s);
    }

    /// <summary>Four rows r0..r3 → u_q = [column q | column q+4] of the four rows, one 128-bit half each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Quad(float* row, long stride)
    {
        Vector256<float> r0 = Vector256.Load(row), r1 = Vector256.Load(row + stride);
        Vector256<float> r2 = Vector256.Load(row + 2 * stride), r3 = Vector256.Load(row + 3 * stride);
        Vector256<double> t0 = Avx.UnpackLow(r0, r1).AsDouble(), t1 = Avx.UnpackHigh(r0, r1).AsDouble();
        Vector256<double> t2 = Avx.UnpackLow(r2, r3).AsDouble(), t3 = Avx.UnpackHigh(r2, r3).AsDouble();
        return (Avx.UnpackLow(t0, t2).AsSingle(), Avx.UnpackHigh(t0, t2).AsSingle(),
            Avx.UnpackLow(t1, t3).AsSingle(), Avx.UnpackHigh(t1, t3).AsSingle());
    }
}

/// <summary>One float per "vector", as <see cref="MicroKernelScalar"/>: multiply-add is not fused (no FMA assumed).</summary>
internal readonly unsafe struct SkinnyLanesScalar : ISkinnyLanes<float>
{
    public static int Count => 1;

    public static int DepthBlock => MicroKernelScalar.Kc;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(float* source) => *source;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, float* destination) => *destination = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Broadcast(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float x, float y, float addend) => x * y + addend;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAddLane(float x, float y, float addend) => x * y + addend;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float x, float y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose(float* source, long sourceStride, float* destination, int destinationStride) => *destination = *source;
}

/// <summary>The portable transpose behind the vector widths on hardware without their shuffle instructions.</summary>
internal static unsafe class SkinnyTranspose
{
    /// <summary>destination[q·destinationStride + r] = source[r·sourceStride + q] for r, q &lt; size.</summary>
    public static void Scalar(int size, float* source, long sourceStride, float* destination, int destinationStride)
    {
        for (int r = 0; r < size; r++)
            for (int q = 0; q < size; q++)
                destination[q * destinationStride + r] = source[r * sourceStride + q];
    }
}
