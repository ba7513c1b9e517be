using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Hopper's warpgroup products, <c>wgmma.mma_async</c> (PTX ISA 8.0, "Asynchronous Warpgroup Level Matrix Multiply-Accumulate
/// Instructions"; sm_90a only, so a module that has them is rewritten to that target: <see cref="PtxTarget.Hopper"/>): the
/// four warps of a warpgroup (128 threads) multiply a 64 × 16 tile of A by a 16 × N tile of B (BF16; TF32: 64 × 8 by
/// 8 × N), both read from shared memory through 64-bit descriptors, into a 64 × N accumulator (here N = 128) spread over
/// the warpgroup's registers. Warp w of the group holds rows 16w to 16w + 15; its lane 4g + t holds, for each 8 columns
/// j, the four values an mma.sync m16n8 accumulator's lane holds (<see cref="Mma.AccumulatorRow"/>,
/// <see cref="Mma.AccumulatorColumn"/>): register 4j + r of the instruction.
/// <para>
/// Operands lie in shared memory as "core matrices" of 8 rows of 16 bytes (8 BF16 or 4 TF32), each 128 contiguous bytes,
/// without swizzling: a core matrix of a K-major operand holds 8 lines (rows of A, columns of B) × 16 bytes of k, one of an
/// MN-major operand (BF16 only; the instruction's transpose flag set) 8 k × 8 lines. Either way the descriptor names the
/// distance between core matrices along k (<see cref="LeadingBytes"/>) and along the lines (<see cref="StrideBytes"/>), as
/// the PTX ISA's "Matrix Descriptor Format" defines them: start address bits 0–13, leading byte offset 16–29, stride byte
/// offset 32–45, each in units of 16 bytes, swizzle mode 0 in bits 62–63.
/// </para>
/// The accumulators are registers of the PTX function that ILGPU does not see (<c>wacc0</c>..<c>wacc63</c>, declared and
/// zeroed once, <see cref="DeclareAccumulators"/>, and declared above their uses by <see cref="PtxTarget.Hopper"/>): ptxas
/// serializes warpgroup products whose accumulators another instruction reads or writes while they are in flight (its
/// warnings C7514 and C7515), and ILGPU moves every inline-PTX operand in and out of its block, and would move
/// accumulators given as operands. So a tile's products are queued on them and stay in flight while the kernel waits
/// for, fences and queues the next tile; each tile waits only for the tile before's products
/// (<c>wgmma.wait_group 1</c>), and <see cref="Collect"/> copies them into ILGPU's values at the end.
/// </summary>
internal static class Wgmma
{
    /// <summary>Bytes between core matrices adjacent along k: one core matrix (they follow each other along k).</summary>
    public const int LeadingBytes = 128;

    /// <summary>Bytes of k a tile holds: four k-steps of two core matrices (BF16: 64 of k, four m64n128k16 products).</summary>
    public const int TileKBytes = 128;

    /// <summary>Bytes between core matrices adjacent along the lines: the eight core matrices of a tile's k.</summary>
    public const int StrideBytes = TileKBytes / 16 * LeadingBytes;

    // The accumulators: registers of the PTX function that ILGPU does not see, so that no instruction of ILGPU's reads them
    // while products write them (see the summary).
    private const string Accumulators =
        "{wacc0,wacc1,wacc2,wacc3,wacc4,wacc5,wacc6,wacc7,wacc8,wacc9,wacc10,wacc11,wacc12,wacc13,wacc14,wacc15," +
        "wacc16,wacc17,wacc18,wacc19,wacc20,wacc21,wacc22,wacc23,wacc24,wacc25,wacc26,wacc27,wacc28,wacc29,wacc30," +
        "wacc31,wacc32,wacc33,wacc34,wacc35,wacc36,wacc37,wacc38,wacc39,wacc40,wacc41,wacc42,wacc43,wacc44,wacc45," +
        "wacc46,wacc47,wacc48,wacc49,wacc50,wacc51,wacc52,wacc53,wacc54,wacc55,wacc56,wacc57,wacc58,wacc59,wacc60," +
        "wacc61,wacc62,wacc63}";
    private const string CollectFirst = "mov.b32 %0, wacc0;\n\tmov.b32 %1, wacc1;\n\tmov.b32 %2, wacc2;\n\tmov.b32 %3, wacc3;\n\t" +
        "mov.b32 %4, wacc4;\n\tmov.b32 %5, wacc5;\n\tmov.b32 %6, wacc6;\n\tmov.b32 %7, wacc7;\n\t" +
        "mov.b32 %8, wacc8;\n\tmov.b32 %9, wacc9;\n\tmov.b32 %10, wacc10;\n\tmov.b32 %11, wacc11;\n\t" +
        "mov.b32 %12, wacc12;\n\tmov.b32 %13, wacc13;\n\tmov.b32 %14, wacc14;\n\tmov.b32 %15, wacc15;\n\t" +
        "mov.b32 %16, wacc16;\n\tmov.b32 %17, wacc17;\n\tmov.b32 %18, wacc18;\n\tmov.b32 %19, wacc19;\n\t" +
        "mov.b32 %20, wacc20;\n\tmov.b32 %21, wacc21;\n\tmov.b32 %22, wacc22;\n\tmov.b32 %23, wacc23;\n\t" +
        "mov.b32 %24, wacc24;\n\tmov.b32 %25, wacc25;\n\tmov.b32 %26, wacc26;\n\tmov.b32 %27, wacc27;\n\t" +
        "mov.b32 %28, wacc28;\n\tmov.b32 %29, wacc29;\n\tmov.b32 %30, wacc30;\n\tmov.b32 %31, wacc31;";
    private const string CollectSecond = "mov.b32 %0, wacc32;\n\tmov.b32 %1, wacc33;\n\tmov.b32 %2, wacc34;\n\tmov.b32 %3, wacc35;\n\t" +
        "mov.b32 %4, wacc36;\n\tmov.b32 %5, wacc37;\n\tmov.b32 %6, wacc38;\n\tmov.b32 %7, wacc39;\n\t" +
        "mov.b32 %8, wacc40;\n\tmov.b32 %9, wacc41;\n\tmov.b32 %10, wacc42;\n\tmov.b32 %11, wacc43;\n\t" +
        "mov.b32 %12, wacc44;\n\tmov.b32 %13, wacc45;\n\tmov.b32 %14, wacc46;\n\tmov.b32 %15, wacc47;\n\t" +
        "mov.b32 %16, wacc48;\n\tmov.b32 %17, wacc49;\n\tmov.b32 %18, wacc50;\n\tmov.b32 %19, wacc51;\n\t" +
        "mov.b32 %20, wacc52;\n\tmov.b32 %21, wacc53;\n\tmov.b32 %22, wacc54;\n\tmov.b32 %23, wacc55;\n\t" +
        "mov.b32 %24, wacc56;\n\tmov.b32 %25, wacc57;\n\tmov.b32 %26, wacc58;\n\tmov.b32 %27, wacc59;\n\t" +
        "mov.b32 %28, wacc60;\n\tmov.b32 %29, wacc61;\n\tmov.b32 %30, wacc62;\n\tmov.b32 %31, wacc63;";

    private const string Zeroes = ".reg .f32 wacc<64>;\n\t" +
        "mov.b32 wacc0, 0;\n\tmov.b32 wacc1, 0;\n\tmov.b32 wacc2, 0;\n\tmov.b32 wacc3, 0;\n\t" +
        "mov.b32 wacc4, 0;\n\tmov.b32 wacc5, 0;\n\tmov.b32 wacc6, 0;\n\tmov.b32 wacc7, 0;\n\t" +
        "mov.b32 wacc8, 0;\n\tmov.b32 wacc9, 0;\n\tmov.b32 wacc10, 0;\n\tmov.b32 wacc11, 0;\n\t" +
        "mov.b32 wacc12, 0;\n\tmov.b32 wacc13, 0;\n\tmov.b32 wacc14, 0;\n\tmov.b32 wacc15, 0;\n\t" +
        "mov.b32 wacc16, 0;\n\tmov.b32 wacc17, 0;\n\tmov.b32 wacc18, 0;\n\tmov.b32 wacc19, 0;\n\t" +
        "mov.b32 wacc20, 0;\n\tmov.b32 wacc21, 0;\n\tmov.b32 wacc22, 0;\n\tmov.b32 wacc23, 0;\n\t" +
        "mov.b32 wacc24, 0;\n\tmov.b32 wacc25, 0;\n\tmov.b32 wacc26, 0;\n\tmov.b32 wacc27, 0;\n\t" +
        "mov.b32 wacc28, 0;\n\tmov.b32 wacc29, 0;\n\tmov.b32 wacc30, 0;\n\tmov.b32 wacc31, 0;\n\t" +
        "mov.b32 wacc32, 0;\n\tmov.b32 wacc33, 0;\n\tmov.b32 wacc34, 0;\n\tmov.b32 wacc35, 0;\n\t" +
        "mov.b32 wacc36, 0;\n\tmov.b32 wacc37, 0;\n\tmov.b32 wacc38, 0;\n\tmov.b32 wacc39, 0;\n\t" +
        "mov.b32 wacc40, 0;\n\tmov.b32 wacc41, 0;\n\tmov.b32 wacc42, 0;\n\tmov.b32 wacc43, 0;\n\t" +
        "mov.b32 wacc44, 0;\n\tmov.b32 wacc45, 0;\n\tmov.b32 wacc46, 0;\n\tmov.b32 wacc47, 0;\n\t" +
        "mov.b32 wacc48, 0;\n\tmov.b32 wacc49, 0;\n\tmov.b32 wacc50, 0;\n\tmov.b32 wacc51, 0;\n\t" +
        "mov.b32 wacc52, 0;\n\tmov.b32 wacc53, 0;\n\tmov.b32 wacc54, 0;\n\tmov.b32 wacc55, 0;\n\t" +
        "mov.b32 wacc56, 0;\n\tmov.b32 wacc57, 0;\n\tmov.b32 wacc58, 0;\n\tmov.b32 wacc59, 0;\n\t" +
        "mov.b32 wacc60, 0;\n\tmov.b32 wacc61, 0;\n\tmov.b32 wacc62, 0;\n\tmov.b32 wacc63, 0;";

    // %0, %1: the descriptors of op(a) and op(b) for the tile's first k-step; %2, %3 its second, %4, %5 its third, %6, %7 its
    // fourth. p: add to the accumulators (zeroed at the start, so every tile adds)
    private const string Begin = "{\n\t.reg .pred p;\n\tsetp.eq.u32 p, 0, 0;\n\t";
    private const string Bf16 = "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " + Accumulators;
    private const string Tf32 = "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 " + Accumulators;
    private const string Step0 = ", %0, %1", Step1 = ", %2, %3", Step2 = ", %4, %5", Step3 = ", %6, %7";

    // imm-scale-a, imm-scale-b 1; imm-trans-a, imm-trans-b: 0 for a K-major operand, 1 for an MN-major one (TF32: K-major
    // only, no transpose immediates)
    private const string KK = ", p, 1, 1, 0, 0;\n\t", KM = ", p, 1, 1, 0, 1;\n\t", MK = ", p, 1, 1, 1, 0;\n\t";
    private const string MM = ", p, 1, 1, 1, 1;\n\t", K = ", p, 1, 1;\n\t";

    private const string KKTile = Begin + Bf16 + Step0 + KK + Bf16 + Step1 + KK + Bf16 + Step2 + KK + Bf16 + Step3 + KK + "}";
    private const string KMTile = Begin + Bf16 + Step0 + KM + Bf16 + Step1 + KM + Bf16 + Step2 + KM + Bf16 + Step3 + KM + "}";
    private const string MKTile = Begin + Bf16 + Step0 + MK + Bf16 + Step1 + MK + Bf16 + Step2 + MK + Bf16 + Step3 + MK + "}";
    private const string MMTile = Begin + Bf16 + Step0 + MM + Bf16 + Step1 + MM + Bf16 + Step2 + MM + Bf16 + Step3 + MM + "}";
    private const string Tf32Tile = Begin + Tf32 + Step0 + K + Tf32 + Step1 + K + Tf32 + Step2 + K + Tf32 + Step3 + K + "}";

    /// <summary>The descriptor of an operand tile at shared-window address <paramref name="address"/> (16-byte aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Descriptor(uint address) =>
        ((ulong)(address >> 4) & 0x3FFFul) | ((ulong)(LeadingBytes >> 4) << 16) | ((ulong)(StrideBytes >> 4) << 32);

    /// <summary>
    /// The descriptor of the operand tile <paramref name="bytes"/> (a multiple of 16) past the one <paramref name="descriptor"/>
    /// names, as <see cref="Descriptor"/> gives it while the address stays in the first 256 KB of the shared window (every
    /// shared window is smaller): the start address field is the low word's 14 bits, which the sum then never carries out of,
    /// so the low word alone is added to, and the offsets in the high word stay as they are.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Advanced(ulong descriptor, uint bytes) =>
        (descriptor & 0xFFFF_FFFF_0000_0000ul) | ((uint)descriptor + (bytes >> 4));

    /// <summary>Declares the accumulators and zeroes them (once, before any product: at the kernel's start).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DeclareAccumulators() => CudaAsm.Emit(Zeroes);

    /// <summary>
    /// Adds the products of a tile to the accumulators, all 128 columns at once, one product per k-step (BF16 16 of k, TF32
    /// 8: two core matrices) from the descriptors <paramref name="a"/> and <paramref name="b"/> of the tile's first
    /// (<see cref="Advanced"/> gives the others'); then waits until only these are in flight, the tile before's done. The
    /// precision and whether each operand is K-major (TF32 ones are) must be constants where the kernel is compiled (they
    /// pick the instruction).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile(ulong a, ulong b, bool bf16, bool aKMajor, bool bKMajor)
    {
        const uint step = 2 * LeadingBytes;
        ulong a1 = Advanced(a, step), a2 = Advanced(a, 2 * step), a3 = Advanced(a, 3 * step);
        ulong b1 = Advanced(b, step), b2 = Advanced(b, 2 * step), b3 = Advanced(b, 3 * step);
        CudaAsm.Emit("wgmma.fence.sync.aligned;");
        // One call per instruction form: ILGPU takes the PTX text only as a constant, so the forms cannot share a call.
        if (!bf16) CudaAsm.Emit(Tf32Tile, a, b, a1, b1, a2, b2, a3, b3);
        else if (aKMajor && bKMajor) CudaAsm.Emit(KKTile, a, b, a1, b1, a2, b2, a3, b3);
        else if (aKMajor) CudaAsm.Emit(KMTile, a, b, a1, b1, a2, b2, a3, b3);
        else if (bKMajor) CudaAsm.Emit(MKTile, a, b, a1, b1, a2, b2, a3, b3);
        else CudaAsm.Emit(MMTile, a, b, a1, b1, a2, b2, a3, b3);
        CudaAsm.Emit("wgmma.commit_group.sync.aligned;\n\twgmma.wait_group.sync.aligned 1;");
    }

    /// <summary>
    /// Waits for every product queued, then copies the accumulators into ILGPU's values: columns 0–63 to
    /// <paramref name="f0"/>..<paramref name="f7"/> (8 columns each), 64–127 to <paramref name="g0"/>..<paramref name="g7"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Collect(ref MmaAccumulator f0, ref MmaAccumulator f1, ref MmaAccumulator f2, ref MmaAccumulator f3,
        ref MmaAccumulator f4, ref MmaAccumulator f5, ref MmaAccumulator f6, ref MmaAccumulator f7, ref MmaAccumulator g0,
        ref MmaAccumulator g1, ref MmaAccumulator g2, ref MmaAccumulator g3, ref MmaAccumulator g4, ref MmaAccumulator g5,
        ref MmaAccumulator g6, ref MmaAccumulator g7)
    {
        CudaAsm.Emit("wgmma.wait_group.sync.aligned 0;");
        CollectHalf(second: false, ref f0, ref f1, ref f2, ref f3, ref f4, ref f5, ref f6, ref f7);
        CollectHalf(second: true, ref g0, ref g1, ref g2, ref g3, ref g4, ref g5, ref g6, ref g7);
    }

    /// <summary>Copies half the accumulators (columns 0–63, or 64–127 where <paramref name="second"/>) into ILGPU's values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CollectHalf(bool second, ref MmaAccumulator f0, ref MmaAccumulator f1, ref MmaAccumulator f2,
        ref MmaAccumulator f3, ref MmaAccumulator f4, ref MmaAccumulator f5, ref MmaAccumulator f6, ref MmaAccumulator f7)
    {
        Output<float> o00 = default, o01 = default, o02 = default, o03 = default;
        Output<float> o04 = default, o05 = default, o06 = default, o07 = default;
        Output<float> o08 = default, o09 = default, o10 = default, o11 = default;
        Output<float> o12 = default, o13 = default, o14 = default, o15 = default;
        Output<float> o16 = default, o17 = default, o18 = default, o19 = default;
        Output<float> o20 = default, o21 = default, o22 = default, o23 = default;
        Output<float> o24 = default, o25 = default, o26 = default, o27 = default;
        Output<float> o28 = default, o29 = default, o30 = default, o31 = default;
        if (second)
        {
            CudaAsm.EmitRef(CollectSecond, ref o00, ref o01, ref o02, ref o03, ref o04, ref o05, ref o06, ref o07, ref o08, ref o09,
                ref o10, ref o11, ref o12, ref o13, ref o14, ref o15, ref o16, ref o17, ref o18, ref o19, ref o20, ref o21, ref o22,
                ref o23, ref o24, ref o25, ref o26, ref o27, ref o28, ref o29, ref o30, ref o31);
        }
        else
        {
            CudaAsm.EmitRef(CollectFirst, ref o00, ref o01, ref o02, ref o03, ref o04, ref o05, ref o06, ref o07, ref o08, ref o09,
                ref o10, ref o11, ref o12, ref o13, ref o14, ref o15, ref o16, ref o17, ref o18, ref o19, ref o20, ref o21, ref o22,
                ref o23, ref o24, ref o25, ref o26, ref o27, ref o28, ref o29, ref o30, ref o31);
        }
        f0 = new MmaAccumulator { C0 = o00.Value, C1 = o01.Value, C2 = o02.Value, C3 = o03.Value };
        f1 = new MmaAccumulator { C0 = o04.Value, C1 = o05.Value, C2 = o06.Value, C3 = o07.Value };
        f2 = new MmaAccumulator { C0 = o08.Value, C1 = o09.Value, C2 = o10.Value, C3 = o11.Value };
        f3 = new MmaAccumulator { C0 = o12.Value, C1 = o13.Value, C2 = o14.Value, C3 = o15.Value };
        f4 = new MmaAccumulator { C0 = o16.Value, C1 = o17.Value, C2 = o18.Value, C3 = o19.Value };
        f5 = new MmaAccumulator { C0 = o20.Value, C1 = o21.Value, C2 = o22.Value, C3 = o23.Value };
        f6 = new MmaAccumulator { C0 = o24.Value, C1 = o25.Value, C2 = o26.Value, C3 = o27.Value };
        f7 = new MmaAccumulator { C0 = o28.Value, C1 = o29.Value, C2 = o30.Value, C3 = o31.Value };
    }

    /// <summary>
    /// Makes this thread's writes to shared memory (its cp.async copies, once waited for) visible to the warpgroup products,
    /// which read shared memory through the async proxy (PTX ISA, "Memory Consistency Model: proxies"); a barrier after it
    /// makes every thread's visible. Nothing to do off CUDA.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FenceSharedWrites()
    {
        if (CudaAsm.IsSupported) CudaAsm.Emit("fence.proxy.async.shared::cta;");
    }

    /// <summary>
    /// The byte of element (<paramref name="line"/>, <paramref name="k"/>) of an operand tile laid out in core matrices:
    /// K-major, a core matrix's row is a line's 8 BF16 or 4 TF32 k; MN-major (BF16), 8 lines at one k.
    /// </summary>
    public static int ElementByte(int line, int k, bool kMajor, bool bf16)
    {
        if (!bf16) return (line >> 3) * StrideBytes + (k >> 2) * LeadingBytes + (line & 7) * 16 + (k & 3) * 4;
        return (line >> 3) * StrideBytes + (k >> 3) * LeadingBytes +
            (kMajor ? (line & 7) * 16 + (k & 7) * 2 : (k & 7) * 16 + (line & 7) * 2);
    }

    /// <summary>
    /// Element (<paramref name="line"/>, <paramref name="k"/>) of the operand tile at word <paramref name="tile"/>: a BF16
    /// value, or a TF32 one (its word, rounded when it was copied).
    /// </summary>
    public static float Element(ArrayView<float> shared, int tile, int line, int k, bool kMajor, bool bf16)
    {
        int at = ElementByte(line, k, kMajor, bf16);
        float word = shared[tile + (at >> 2)];
        if (!bf16) return word;
        uint pair = Interop.FloatAsInt(word);
        return Interop.IntAsFloat((at & 2) == 0 ? pair << 16 : pair & 0xFFFF0000u);
    }
}
