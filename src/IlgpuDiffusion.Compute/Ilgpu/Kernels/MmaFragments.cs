using System.Runtime.CompilerServices;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// The accumulator fragment of one <c>mma.sync</c> tile of 16 × 8 on a warp of 32 lanes (PTX ISA, "Matrix Fragments for
/// mma.m16n8k8 / m16n8k16"): with lane = 4·g + t, C0 and C1 sit at row g, columns 2t and 2t + 1; C2 and C3 at row g + 8.
/// </summary>
internal struct MmaAccumulator
{
    public float C0, C1, C2, C3;
}

/// <summary>
/// An A fragment (16 rows × 8 k for TF32, 16 × 16 for BF16), one .b32 register each. TF32: A0 (g, t), A1 (g + 8, t),
/// A2 (g, t + 4), A3 (g + 8, t + 4). BF16 (two values per register, the lower k in the low half): A0 (g, 2t..2t+1),
/// A1 (g + 8, 2t..2t+1), A2 (g, 2t+8..2t+9), A3 (g + 8, 2t+8..2t+9).
/// </summary>
internal struct MmaA
{
    public uint A0, A1, A2, A3;
}

/// <summary>The four fp32 values of an A fragment before rounding (positions as <see cref="MmaA"/>'s TF32 registers).</summary>
internal struct MmaValuesA
{
    public float V0, V1, V2, V3;
}

/// <summary>The two fp32 values of a B fragment before rounding (positions as <see cref="MmaB"/>'s TF32 registers).</summary>
internal struct MmaValuesB
{
    public float V0, V1;
}

/// <summary>
/// A B fragment (8 k × 8 columns for TF32, 16 × 8 for BF16), one .b32 register each. TF32: B0 (k = t, n = g),
/// B1 (k = t + 4, n = g). BF16: B0 (k = 2t..2t+1, n = g), B1 (k = 2t+8..2t+9, n = g).
/// </summary>
internal struct MmaB
{
    public uint B0, B1;
}

/// <summary>
/// The four registers an <c>ldmatrix .x4</c> gives a lane: R{j} from the j-th 8 × 8 matrix (see <see cref="Mma.LoadMatrices"/>).
/// </summary>
internal struct LoadedMatrices
{
    public uint R0, R1, R2, R3;

    /// <summary>
    /// The registers as an A fragment: the matrices were (rows 0–7, k 0..), (8–15, k 0..), (0–7, k + half), (8–15, k + half).
    /// </summary>
    public readonly MmaA A => new() { A0 = R0, A1 = R1, A2 = R2, A3 = R3 };

    /// <summary>
    /// The registers as two B fragments: the matrices were (lines 0–7, k 0..), (0–7, k + half), (8–15, k 0..),
    /// (8–15, k + half).
    /// </summary>
    public readonly (MmaB Low, MmaB High) B => (new MmaB { B0 = R0, B1 = R1 }, new MmaB { B0 = R2, B1 = R3 });
}

/// <summary>
/// A lane's place in the ldmatrix loads of fragments from shared-memory rows that run along k (4 words: 4 TF32 k or 8 BF16
/// k, so the same rows serve both precisions), made once per kernel so that loops do not recompute it. An A fragment's
/// matrices are rows 0–7 then 8–15 at words 0..3, then both at words 4..7; two B fragments' are lines 0–7 at words 0..3
/// and 4..7, then lines 8–15. Lane 8j + r gives row r of matrix j.
/// </summary>
internal readonly struct LaneMatrices
{
    private readonly int _aRow, _aWord, _bRow, _bWord;
    private readonly uint _sharedBase;

    public LaneMatrices(int lane)
    {
        Lane = lane;
        (_aRow, _aWord) = (lane & 15, (lane >> 4) << 2);
        (_bRow, _bWord) = ((lane & 7) | ((lane >> 1) & 8), (lane & 8) >> 1);
        _sharedBase = CudaAsm.IsSupported ? Mma.DynamicSharedBase() : 0u;
    }

    /// <summary>The lane's index in its warp.</summary>
    public int Lane { get; }

    /// <summary>The 32-bit shared address of the launch's dynamic shared memory (0 off CUDA).</summary>
    public uint SharedBase => _sharedBase;

    /// <summary>The word this lane addresses for an A fragment whose row 0, k 0 is at <paramref name="word"/>.</summary>
    public int AWord(int word, int stride) => word + _aRow * stride + _aWord;

    /// <summary>
    /// The word this lane addresses for the B fragments of lines 0–7 and 8–15 whose line 0, k 0 is at <paramref name="word"/>.
    /// </summary>
    public int BWord(int word, int stride) => word + _bRow * stride + _bWord;

    /// <summary>
    /// The shared address this lane gives ldmatrix for an A fragment at <paramref name="word"/>: the lane's part first, the
    /// same for every fragment of a <paramref name="stride"/>, then the fragment's, so that ptxas keeps the former in a
    /// register and folds a constant <paramref name="word"/> into the instruction (LDSM [R + offset]) instead of
    /// recomputing the sum per load.
    /// </summary>
    public uint AAddress(int word, int stride) => _sharedBase + 4u * (uint)(_aRow * stride + _aWord) + 4u * (uint)word;

    /// <summary>The shared address this lane gives ldmatrix for two B fragments at <paramref name="word"/> (as AAddress).</summary>
    public uint BAddress(int word, int stride) => _sharedBase + 4u * (uint)(_bRow * stride + _bWord) + 4u * (uint)word;

    /// <summary>The A fragment at <paramref name="word"/> (rows <paramref name="stride"/> words apart) by ldmatrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MmaA LoadA(int word, int stride) => Mma.LoadMatrices(AAddress(word, stride)).A;

    /// <summary>The two B fragments at <paramref name="word"/> (lines <paramref name="stride"/> words apart) by ldmatrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public (MmaB Low, MmaB High) LoadB(int word, int stride) => Mma.LoadMatrices(BAddress(word, stride)).B;

    /// <summary>
    /// The two BF16 B fragments of lines 0–7 and 8–15 × k 0..16 from rows that run along the lines (k row r's word w at
    /// <paramref name="word"/> + r·<paramref name="stride"/> + w holds lines 2w, 2w + 1) by a transposed ldmatrix: its four
    /// matrices (k 0–7 and 8–15 of lines 0–7, then of lines 8–15) lie where those of an A fragment do, so each fragment's
    /// registers come out consecutive, as mma takes them (at the addresses of two B fragments they would come out
    /// interleaved, and ptxas would move them into pairs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public (MmaB Low, MmaB High) LoadBFromRows(int word, int stride) => Mma.LoadMatricesTransposed(AAddress(word, stride)).B;
}

/// <summary>
/// The warp tile of <see cref="TensorCoreGemmKernels"/>: 64 rows × 32 columns as 4 × 4 accumulator fragments, F{mi}{ni}
/// covering rows 16·mi.. and columns 8·ni... Plain fields, never an array: ILGPU does not unroll loops, and an array
/// indexed in a loop would live in local memory instead of registers.
/// </summary>
internal struct WarpAccumulators
{
    public MmaAccumulator F00, F01, F02, F03, F10, F11, F12, F13, F20, F21, F22, F23, F30, F31, F32, F33;
}

/// <summary>
/// The tensor-core instructions as inline PTX (sm_80 and newer; only reached on CUDA accelerators), and the lane
/// arithmetic of the fragment layouts, shared by the kernels and the host tests of the layouts.
/// </summary>
internal static class Mma
{
    /// <summary>Lanes of a warp: the mma.sync fragments are defined for exactly 32.</summary>
    public const int WarpLanes = 32;

    /// <summary>c += a·b on a 16 × 8 × 16 BF16 tile (fp32 accumulate).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Bf16(ref MmaAccumulator c, in MmaA a, in MmaB b)
    {
        Ref<float> c0 = c.C0, c1 = c.C1, c2 = c.C2, c3 = c.C3;
        Input<uint> a0 = a.A0, a1 = a.A1, a2 = a.A2, a3 = a.A3, b0 = b.B0, b1 = b.B1;
        CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref c0, ref c1, ref c2, ref c3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
        c.C0 = c0.Value;
        c.C1 = c1.Value;
        c.C2 = c2.Value;
        c.C3 = c3.Value;
    }

    /// <summary>
    /// One row of the warp tile on TF32 tensor cores: c_j += a·b_j for the four 8-column fragments j, from fp32 values
    /// already rounded to TF32 (<see cref="TensorCoreRounding.Tf32Bits"/>: the instruction reads their bits as .b32 and ignores the 13 low
    /// ones). One inline-PTX block for all four products: ILGPU passes every operand of every block through a
    /// local-memory slot, which ptxas folds into registers only while the slots are few (one block per instruction left
    /// 744 bytes of stack in the hot loop).
    /// </summary>
    /// <param name="a">The A fragment's values (A0..A3 positions, see <see cref="MmaA"/>).</param>
    /// <param name="b0">B0 and B1 values of the first fragment; likewise <paramref name="b1"/>..<paramref name="b3"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tf32Row(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3,
        in MmaValuesA a, in MmaValuesB b0, in MmaValuesB b1, in MmaValuesB b2, in MmaValuesB b3)
    {
        Ref<float> d00 = c0.C0, d01 = c0.C1, d02 = c0.C2, d03 = c0.C3, d10 = c1.C0, d11 = c1.C1, d12 = c1.C2, d13 = c1.C3;
        Ref<float> d20 = c2.C0, d21 = c2.C1, d22 = c2.C2, d23 = c2.C3, d30 = c3.C0, d31 = c3.C1, d32 = c3.C2, d33 = c3.C3;
        Input<float> a0 = a.V0, a1 = a.V1, a2 = a.V2, a3 = a.V3;
        Input<float> b00 = b0.V0, b01 = b0.V1, b10 = b1.V0, b11 = b1.V1, b20 = b2.V0, b21 = b2.V1, b30 = b3.V0, b31 = b3.V1;
        CudaAsm.EmitRef(
            "{\n\t.reg .b32 ta<4>, tb<8>;\n\t" +
            "mov.b32 ta0, %16;\n\tmov.b32 ta1, %17;\n\tmov.b32 ta2, %18;\n\tmov.b32 ta3, %19;\n\t" +
            "mov.b32 tb0, %20;\n\tmov.b32 tb1, %21;\n\tmov.b32 tb2, %22;\n\tmov.b32 tb3, %23;\n\t" +
            "mov.b32 tb4, %24;\n\tmov.b32 tb5, %25;\n\tmov.b32 tb6, %26;\n\tmov.b32 tb7, %27;\n\t" +
            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {ta0,ta1,ta2,ta3}, {tb0,tb1}, {%0,%1,%2,%3};\n\t" +
            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%4,%5,%6,%7}, {ta0,ta1,ta2,ta3}, {tb2,tb3}, {%4,%5,%6,%7};\n\t" +
            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%8,%9,%10,%11}, {ta0,ta1,ta2,ta3}, {tb4,tb5}, {%8,%9,%10,%11};\n\t" +
            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%12,%13,%14,%15}, {ta0,ta1,ta2,ta3}, {tb6,tb7}, {%12,%13,%14,%15};\n\t}",
            ref d00, ref d01, ref d02, ref d03, ref d10, ref d11, ref d12, ref d13,
            ref d20, ref d21, ref d22, ref d23, ref d30, ref d31, ref d32, ref d33,
            ref a0, ref a1, ref a2, ref a3, ref b00, ref b01, ref b10, ref b11, ref b20, ref b21, ref b30, ref b31);
        c0 = new MmaAccumulator { C0 = d00.Value, C1 = d01.Value, C2 = d02.Value, C3 = d03.Value };
        c1 = new MmaAccumulator { C0 = d10.Value, C1 = d11.Value, C2 = d12.Value, C3 = d13.Value };
        c2 = new MmaAccumulator { C0 = d20.Value, C1 = d21.Value, C2 = d22.Value, C3 = d23.Value };
        c3 = new MmaAccumulator { C0 = d30.Value, C1 = d31.Value, C2 = d32.Value, C3 = d33.Value };
    }

    /// <summary>
    /// The 32-bit shared-window address of the launch's dynamic shared memory (ILGPU declares it as
    /// <c>__dyn_shared_alloca</c>; a kernel without static shared memory has nothing before it), for <see cref="LoadMatrices"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint DynamicSharedBase()
    {
        CudaAsm.Emit("{\n\t.reg .u64 t;\n\tmov.u64 t, __dyn_shared_alloca;\n\tcvt.u32.u64 %0, t;\n\t}", out uint address);
        return address;
    }

    /// <summary>
    /// <c>ldmatrix.sync.aligned.m8n8.x4.shared.b16</c> (PTX ISA, "Warp-level matrix load instruction: ldmatrix"): four 8 × 8
    /// matrices of 16-bit elements in one instruction. Lane 8j + r gives in <paramref name="address"/> the shared address of
    /// row r of matrix j (16 bytes, 16-byte aligned); lane 4g + t receives in R{j} the 32-bit word t of row g of matrix j.
    /// Rows of four TF32 values or of BF16 pairs give A and B fragments exactly as the mma instructions take them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LoadedMatrices LoadMatrices(uint address)
    {
        Output<uint> r0 = default, r1 = default, r2 = default, r3 = default;
        Input<uint> at = address;
        CudaAsm.EmitRef("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];", ref r0, ref r1, ref r2, ref r3, ref at);
        return new LoadedMatrices { R0 = r0.Value, R1 = r1.Value, R2 = r2.Value, R3 = r3.Value };
    }

    /// <summary>
    /// <see cref="LoadMatrices"/> with <c>.trans</c>: each matrix transposed at 16-bit granularity, so lane 4g + t receives
    /// in R{j} the elements (row 2t, column g) in the low half and (row 2t + 1, column g) in the high half of matrix j:
    /// BF16 fragments from rows that run along the lines (the other operand layout).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LoadedMatrices LoadMatricesTransposed(uint address)
    {
        Output<uint> r0 = default, r1 = default, r2 = default, r3 = default;
        Input<uint> at = address;
        CudaAsm.EmitRef("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];", ref r0, ref r1, ref r2, ref r3, ref at);
        return new LoadedMatrices { R0 = r0.Value, R1 = r1.Value, R2 = r2.Value, R3 = r3.Value };
    }

    /// <summary>Two values rounded to BF16 (nearest even) in one register: <paramref name="low"/> in the low half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint PackBf16(float low, float high)
    {
        CudaAsm.Emit("cvt.rn.bf16x2.f32 %0, %1, %2;", out uint packed, high, low);
        return packed;
    }

    /// <summary>Row of a fragment register within its 16-row tile: g for A0/A2 (C0/C1), g + 8 for A1/A3 (C2/C3).</summary>
    public static int ARow(int lane, int register) => (register & 1) * 8 + (lane >> 2);

    /// <summary>k of TF32 A register <paramref name="register"/>: t for A0/A1, t + 4 for A2/A3.</summary>
    public static int Tf32AK(int lane, int register) => (register >> 1) * 4 + (lane & 3);

    /// <summary>k of TF32 B register <paramref name="register"/> (0 or 1); its column is g.</summary>
    public static int Tf32BK(int lane, int register) => register * 4 + (lane & 3);

    /// <summary>k of the low half of BF16 A register <paramref name="register"/>; the high half is the next k.</summary>
    public static int Bf16AK(int lane, int register) => (register >> 1) * 8 + 2 * (lane & 3);

    /// <summary>k of the low half of BF16 B register <paramref name="register"/> (0 or 1); the high half is the next k.</summary>
    public static int Bf16BK(int lane, int register) => register * 8 + 2 * (lane & 3);

    /// <summary>Column of B registers (and of the tile's output): g.</summary>
    public static int BColumn(int lane) => lane >> 2;

    /// <summary>Row of accumulator register <paramref name="register"/>: g for C0/C1, g + 8 for C2/C3.</summary>
    public static int AccumulatorRow(int lane, int register) => (register >> 1) * 8 + (lane >> 2);

    /// <summary>Column of accumulator register <paramref name="register"/>: 2t for C0/C2, 2t + 1 for C1/C3.</summary>
    public static int AccumulatorColumn(int lane, int register) => 2 * (lane & 3) + (register & 1);
}
