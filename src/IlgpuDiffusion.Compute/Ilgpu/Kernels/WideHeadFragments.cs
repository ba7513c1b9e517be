using System.Runtime.CompilerServices;
using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>Sixteen accumulator fragments: a warp's 16 × 128 tile, Left its columns 0..64, Right 64..128 (registers).</summary>
internal struct Fragments16
{
    public Fragments8 Left, Right;
}

/// <summary>A warp's 16 query rows × 64 head columns as eight TF32 A fragments, F{j} covering k 8j.. (registers).</summary>
internal struct Tf32Rows64
{
    public MmaValuesA F0, F1, F2, F3, F4, F5, F6, F7;
}

/// <summary>Rows of a wide head staged in shared memory, padded to 132 words: lines are tokens, k head columns.</summary>
internal readonly struct WideHeadRows : IOperandStrides
{
    public int Line => WideHeadFragments.HeadStride;

    public int K => 1;
}

/// <summary>
/// Rows of a wide head staged as <see cref="WideHeadRows"/> read transposed (the key pass's Q and dO as B operands of dK and
/// dV): lines are head columns, k tokens.
/// </summary>
internal readonly struct WideHeadColumns : IOperandStrides
{
    public int Line => 1;

    public int K => WideHeadFragments.HeadStride;
}

/// <summary>
/// Rows of a wide head read transposed (the forward's V, the query pass's K), padded to 136 words: lines are head columns,
/// k keys.
/// </summary>
internal readonly struct WideValueColumns : IOperandStrides
{
    public int Line => 1;

    public int K => WideHeadFragments.TransposedHeadStride;
}

/// <summary>
/// The steps the flash-attention forwards for heads wider than 64 columns share (<see cref="TensorCoreWideAttentionKernels"/>,
/// <see cref="TensorCoreWideAttentionBf16Kernels"/>): heads of 72 to 128 columns in multiples of 8, staged 128 wide with
/// zero columns after theirs; a warp's 16 × 128 output in registers, products over the head's columns skipping the
/// k-steps that lie wholly in the padding, and output fragments skipped by groups of 32 columns. The queries stay in
/// registers for the whole launch, so that keys and values of 128 columns fit 48 KB of shared memory.
/// </summary>
internal static class WideHeadFragments
{
    /// <summary>The width the wide-head kernels stage and multiply: 128 columns.</summary>
    public const int HeadWidth = 128;

    /// <summary>Words between staged head rows: 132, so that fragment reads (line g, k t) hit distinct banks.</summary>
    public const int HeadStride = HeadWidth + 4;

    /// <summary>Words between head rows read transposed (<see cref="WideValueColumns"/>): 136.</summary>
    public const int TransposedHeadStride = HeadWidth + 8;

    /// <summary>
    /// Whether heads of <paramref name="headDim"/> columns run on the wide-head forwards: multiples of 8 above
    /// <see cref="AttentionFragments.HeadWidth"/> (which <see cref="AttentionFragments.Fits"/> takes) up to 128.
    /// </summary>
    public static bool Fits(int headDim) => headDim > AttentionFragments.HeadWidth && headDim <= HeadWidth && headDim % 8 == 0;

    /// <summary>
    /// Whether the wide kernels stage this head's tiles that lie wholly inside the sequence with 16-byte loads
    /// (<see cref="WholeRowStaging.StageWide{TWords}"/>): head rows on 16 bytes, and the head's columns past 64 one or two
    /// whole groups of 32 (heads of 96 and 128; the others stage element by element, with zeros after the head).
    /// </summary>
    public static bool StagesWhole(in AttentionArguments a) => a.VectorRows != 0 && a.HeadDim % 32 == 0;

    /// <summary>
    /// The warp's 16 query rows × 128 staged at word <paramref name="rows"/> (<see cref="WideHeadRows"/>) as TF32 A fragments.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Tf32Rows64 Left, Tf32Rows64 Right) LoadQueries(ArrayView<float> shared, int rows, in LaneMatrices lane) =>
        (LoadRows64(shared, rows, lane), LoadRows64(shared, rows + 64, lane));

    /// <summary>
    /// s [16, 32 keys] += Q·Kᵀ over the head's first <paramref name="columns"/> (a multiple of 8 above 64): Q the warp's
    /// fragments, K the key rows staged at word <paramref name="keys"/> (<see cref="WideHeadRows"/>). The k-steps past the
    /// head are skipped; ILGPU does not unroll loops, so each is written out and every shared offset is an immediate.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scores(ref Fragments4 s, in Tf32Rows64 left, in Tf32Rows64 right, ArrayView<float> shared, int keys,
        in LaneMatrices lane, int columns)
    {
        Scores(ref s, left, shared, keys, 0, lane, 64);
        Scores(ref s, right, shared, keys, 64, lane, columns - 64);
    }

    /// <summary>Multiplies row g's registers of every fragment by <paramref name="factor"/>.Low, row g + 8's by .High.</summary>
    public static void Scale(ref Fragments16 o, RowPair factor)
    {
        AttentionFragments.Scale(ref o.Left, factor);
        AttentionFragments.Scale(ref o.Right, factor);
    }

    /// <summary>
    /// c [16, 128] += A·B over a tile of 32 (the forward's P·V, the backward's Pᵀ·dO, dSᵀ·Q and dS·K): A the warp's 16 rows
    /// at word <paramref name="a"/>, B's lines (head columns) from word <paramref name="b"/>; the output fragments of each 32
    /// columns only where the head's <paramref name="columns"/> reach into them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateOver32<TA, TB>(ref Fragments16 c, ArrayView<float> shared, int a, int b, in LaneMatrices lane,
        int columns)
        where TA : struct, IOperandStrides
        where TB : struct, IOperandStrides
    {
        WarpProducts.AccumulateOver32<TA, TB>(ref c.Left, shared, a, b, lane, 64);
        WarpProducts.AccumulateOver32<TA, TB>(ref c.Right, shared, a, b + 64, lane, columns - 64);
    }

    /// <summary>
    /// s [16, 32] += A·Bᵀ over the head's first <paramref name="columns"/> (a multiple of 8 above 64), both operands rows
    /// staged 128 wide in shared memory (<see cref="WideHeadRows"/>) at words <paramref name="a"/> and <paramref name="b"/>:
    /// the backward's Kᵀ·Q and Vᵀ·dO. The k-steps past the head are skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateOverHead(ref Fragments4 s, ArrayView<float> shared, int a, int b, in LaneMatrices lane,
        int columns)
    {
        WarpProducts.AccumulateOverHead<WideHeadRows, WideHeadRows>(ref s, shared, a, b, lane, 64);
        WarpProducts.AccumulateOverHead<WideHeadRows, WideHeadRows>(ref s, shared, a + 64, b + 64, lane, columns - 64);
    }

    /// <summary>
    /// Writes the first <paramref name="columns"/> of a warp's 16 × 128 tile times <paramref name="factor"/> (per row), as
    /// <see cref="AttentionFragments.Write(in Fragments8, RowPair, ArrayView{float}, int, int, int, bool, int)"/> does for 64.
    /// </summary>
    public static void Write(in Fragments16 o, RowPair factor, ArrayView<float> target, int low, int high, int columns, int lane)
    {
        AttentionFragments.Write(o.Left, factor, target, low, high, 64, accumulate: false, lane);
        AttentionFragments.Write(o.Right, factor, target, low < 0 ? -1 : low + 64, high < 0 ? -1 : high + 64, columns - 64,
            accumulate: false, lane);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Tf32Rows64 LoadRows64(ArrayView<float> shared, int rows, in LaneMatrices lane) => new()
    {
        F0 = WarpProducts.LoadRegisters<WideHeadRows>(shared, rows, 0, lane),
        F1 = WarpProducts.LoadRegisters<WideHeadRows>(shared, rows, 8, lane),
        F2 = WarpProducts.LoadRegisters<WideHeadRows>(shared, rows, 16, lane),
        F3 = WarpProducts.LoadRegisters<WideHeadRows>(shared, rows, 24, lane),
        F4 = WarpProducts.LoadRegisters<WideHeadRows>(shared, rows, 32, lane),
        F5 = WarpProducts.LoadRegisters<WideHeadRows>(shared, rows, 40, lane),
        F6 = WarpProducts.LoadRegisters<WideHeadRows>(shared, rows, 48, lane),
        F7 = WarpProducts.LoadRegisters<WideHeadRows>(shared, rows, 56, lane),
    };

    /// <summary>s += Q[16, k0..k0+64]·K[32, k0..k0+64]ᵀ over the first <paramref name="columns"/> of those 64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores(ref Fragments4 s, in Tf32Rows64 q, ArrayView<float> shared, int keys, int k0, in LaneMatrices lane,
        int columns)
    {
        Step(ref s, q.F0, shared, keys, k0, lane);
        if (columns > 8) Step(ref s, q.F1, shared, keys, k0 + 8, lane);
        if (columns > 16) Step(ref s, q.F2, shared, keys, k0 + 16, lane);
        if (columns > 24) Step(ref s, q.F3, shared, keys, k0 + 24, lane);
        if (columns > 32) Step(ref s, q.F4, shared, keys, k0 + 32, lane);
        if (columns > 40) Step(ref s, q.F5, shared, keys, k0 + 40, lane);
        if (columns > 48) Step(ref s, q.F6, shared, keys, k0 + 48, lane);
        if (columns > 56) Step(ref s, q.F7, shared, keys, k0 + 56, lane);
    }

    /// <summary>s += Q[16, k..k+8]·K[32, k..k+8]ᵀ, Q's fragment in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(ref Fragments4 s, in MmaValuesA q, ArrayView<float> shared, int keys, int k, in LaneMatrices lane) =>
        WarpProducts.Accumulate<WideHeadRows>(ref s.F0, ref s.F1, ref s.F2, ref s.F3, q, shared, keys, 0, k, lane);
}
