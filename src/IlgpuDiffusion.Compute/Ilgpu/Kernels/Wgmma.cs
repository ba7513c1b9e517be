using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Hopper's warpgroup products, <c>wgmma.mma_async</c> (PTX ISA 8.0, "Asynchronous Warpgroup Level Matrix Multiply-Accumulate
/// Instructions"; sm_90a only, so a module that has them is rewritten to that target: <see cref="PtxTarget.Hopper"/>): the
/// four warps of a warpgroup (128 threads) multiply a 64 × 16 tile of A by a 16 × N tile of B (BF16; TF32: 64 × 8 by
/// 8 × N), both read from shared memory through 64-bit descriptors, into a 64 × N accumulator spread over the warpgroup's
/// registers. Warp w of the group holds rows 16w to 16w + 15; its lane 4g + t holds, for each 8 columns j, the four values
/// an mma.sync m16n8 accumulator's lane holds (<see cref="Mma.AccumulatorRow"/>, <see cref="Mma.AccumulatorColumn"/>):
/// register 4j + r of the instruction.
/// <para>
/// Operands lie in shared memory as "core matrices" of 8 rows of 16 bytes (8 BF16 or 4 TF32), each 128 contiguous bytes,
/// without swizzling: a core matrix of a K-major operand holds 8 lines (rows of A, columns of B) × 16 bytes of k, one of an
/// MN-major operand (BF16 only; the instruction's transpose flag set) 8 k × 8 lines. Either way the descriptor names the
/// distance between core matrices along k (<see cref="LeadingBytes"/>) and along the lines (<see cref="StrideBytes"/>), as
/// the PTX ISA's "Matrix Descriptor Format" defines them: start address bits 0–13, leading byte offset 16–29, stride byte
/// offset 32–45, each in units of 16 bytes, swizzle mode 0 in bits 62–63.
/// </para>
/// One inline-PTX block holds the fence, both k-steps of a tile (32 deep in BF16, 16 in TF32), the commit and the wait for
/// them: ILGPU moves each operand in and out of the block, and ptxas serializes warpgroup products whose accumulators
/// another instruction reads while they are in flight (its warning C7514), which a wait inside the block rules out.
/// </summary>
internal static class Wgmma
{
    /// <summary>Bytes between core matrices adjacent along k: one core matrix (they follow each other along k).</summary>
    public const int LeadingBytes = 128;

    /// <summary>Bytes between core matrices adjacent along the lines: the four core matrices of a tile's k (64 bytes).</summary>
    public const int StrideBytes = 4 * LeadingBytes;

    private const string Accumulators = "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15," +
        "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}";

    private const string Begin = "{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %36, 0;\n\twgmma.fence.sync.aligned;\n\t";
    private const string Product = "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " + Accumulators;
    private const string Tf32Product = "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 " + Accumulators;
    private const string End = "wgmma.commit_group.sync.aligned;\n\twgmma.wait_group.sync.aligned 0;\n\t}";

    // imm-scale-a, imm-scale-b 1; imm-trans-a, imm-trans-b: 0 for a K-major operand, 1 for an MN-major one
    private const string KK = Begin + Product + ", %32, %33, p, 1, 1, 0, 0;\n\t" + Product + ", %34, %35, p, 1, 1, 0, 0;\n\t" + End;
    private const string KM = Begin + Product + ", %32, %33, p, 1, 1, 0, 1;\n\t" + Product + ", %34, %35, p, 1, 1, 0, 1;\n\t" + End;
    private const string MM = Begin + Product + ", %32, %33, p, 1, 1, 1, 1;\n\t" + Product + ", %34, %35, p, 1, 1, 1, 1;\n\t" + End;
    private const string MK = Begin + Product + ", %32, %33, p, 1, 1, 1, 0;\n\t" + Product + ", %34, %35, p, 1, 1, 1, 0;\n\t" + End;
    // TF32: K-major operands only, no transpose immediates
    private const string Tf32 = Begin + Tf32Product + ", %32, %33, p, 1, 1;\n\t" + Tf32Product + ", %34, %35, p, 1, 1;\n\t" + End;

    /// <summary>The descriptor of an operand tile at shared-window address <paramref name="address"/> (16-byte aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Descriptor(uint address) =>
        ((ulong)(address >> 4) & 0x3FFFul) | ((ulong)(LeadingBytes >> 4) << 16) | ((ulong)(StrideBytes >> 4) << 32);

    /// <summary>
    /// 64 columns of a warpgroup's accumulators (<paramref name="f0"/>..<paramref name="f7"/>, 8 columns each) += the
    /// products of a tile: its first half of k (BF16 0–15, TF32 0–7) from the descriptors <paramref name="a0"/>,
    /// <paramref name="b0"/>, its second from <paramref name="a1"/>, <paramref name="b1"/>; done when this returns. The
    /// precision and whether each operand is K-major (TF32 ones are) must be constants where the kernel is compiled (they
    /// pick the instruction).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile(ref MmaAccumulator f0, ref MmaAccumulator f1, ref MmaAccumulator f2, ref MmaAccumulator f3,
        ref MmaAccumulator f4, ref MmaAccumulator f5, ref MmaAccumulator f6, ref MmaAccumulator f7,
        ulong a0, ulong b0, ulong a1, ulong b1, bool bf16, bool aKMajor, bool bKMajor)
    {
        Ref<float> d00 = f0.C0, d01 = f0.C1, d02 = f0.C2, d03 = f0.C3, d04 = f1.C0, d05 = f1.C1, d06 = f1.C2, d07 = f1.C3;
        Ref<float> d08 = f2.C0, d09 = f2.C1, d10 = f2.C2, d11 = f2.C3, d12 = f3.C0, d13 = f3.C1, d14 = f3.C2, d15 = f3.C3;
        Ref<float> d16 = f4.C0, d17 = f4.C1, d18 = f4.C2, d19 = f4.C3, d20 = f5.C0, d21 = f5.C1, d22 = f5.C2, d23 = f5.C3;
        Ref<float> d24 = f6.C0, d25 = f6.C1, d26 = f6.C2, d27 = f6.C3, d28 = f7.C0, d29 = f7.C1, d30 = f7.C2, d31 = f7.C3;
        Input<ulong> da0 = a0, db0 = b0, da1 = a1, db1 = b1;
        Input<uint> accumulate = 1u;
        // One call per instruction form: ILGPU takes the PTX text only as a constant, so the forms cannot share a call.
        if (!bf16)
        {
            CudaAsm.EmitRef(Tf32, ref d00, ref d01, ref d02, ref d03, ref d04, ref d05, ref d06, ref d07, ref d08, ref d09, ref d10,
                ref d11, ref d12, ref d13, ref d14, ref d15, ref d16, ref d17, ref d18, ref d19, ref d20, ref d21, ref d22, ref d23,
                ref d24, ref d25, ref d26, ref d27, ref d28, ref d29, ref d30, ref d31, ref da0, ref db0, ref da1, ref db1,
                ref accumulate);
        }
        else if (aKMajor && bKMajor)
        {
            CudaAsm.EmitRef(KK, ref d00, ref d01, ref d02, ref d03, ref d04, ref d05, ref d06, ref d07, ref d08, ref d09, ref d10,
                ref d11, ref d12, ref d13, ref d14, ref d15, ref d16, ref d17, ref d18, ref d19, ref d20, ref d21, ref d22, ref d23,
                ref d24, ref d25, ref d26, ref d27, ref d28, ref d29, ref d30, ref d31, ref da0, ref db0, ref da1, ref db1,
                ref accumulate);
        }
        else if (aKMajor)
        {
            CudaAsm.EmitRef(KM, ref d00, ref d01, ref d02, ref d03, ref d04, ref d05, ref d06, ref d07, ref d08, ref d09, ref d10,
                ref d11, ref d12, ref d13, ref d14, ref d15, ref d16, ref d17, ref d18, ref d19, ref d20, ref d21, ref d22, ref d23,
                ref d24, ref d25, ref d26, ref d27, ref d28, ref d29, ref d30, ref d31, ref da0, ref db0, ref da1, ref db1,
                ref accumulate);
        }
        else if (bKMajor)
        {
            CudaAsm.EmitRef(MK, ref d00, ref d01, ref d02, ref d03, ref d04, ref d05, ref d06, ref d07, ref d08, ref d09, ref d10,
                ref d11, ref d12, ref d13, ref d14, ref d15, ref d16, ref d17, ref d18, ref d19, ref d20, ref d21, ref d22, ref d23,
                ref d24, ref d25, ref d26, ref d27, ref d28, ref d29, ref d30, ref d31, ref da0, ref db0, ref da1, ref db1,
                ref accumulate);
        }
        else
        {
            CudaAsm.EmitRef(MM, ref d00, ref d01, ref d02, ref d03, ref d04, ref d05, ref d06, ref d07, ref d08, ref d09, ref d10,
                ref d11, ref d12, ref d13, ref d14, ref d15, ref d16, ref d17, ref d18, ref d19, ref d20, ref d21, ref d22, ref d23,
                ref d24, ref d25, ref d26, ref d27, ref d28, ref d29, ref d30, ref d31, ref da0, ref db0, ref da1, ref db1,
                ref accumulate);
        }
        f0 = new MmaAccumulator { C0 = d00.Value, C1 = d01.Value, C2 = d02.Value, C3 = d03.Value };
        f1 = new MmaAccumulator { C0 = d04.Value, C1 = d05.Value, C2 = d06.Value, C3 = d07.Value };
        f2 = new MmaAccumulator { C0 = d08.Value, C1 = d09.Value, C2 = d10.Value, C3 = d11.Value };
        f3 = new MmaAccumulator { C0 = d12.Value, C1 = d13.Value, C2 = d14.Value, C3 = d15.Value };
        f4 = new MmaAccumulator { C0 = d16.Value, C1 = d17.Value, C2 = d18.Value, C3 = d19.Value };
        f5 = new MmaAccumulator { C0 = d20.Value, C1 = d21.Value, C2 = d22.Value, C3 = d23.Value };
        f6 = new MmaAccumulator { C0 = d24.Value, C1 = d25.Value, C2 = d26.Value, C3 = d27.Value };
        f7 = new MmaAccumulator { C0 = d28.Value, C1 = d29.Value, C2 = d30.Value, C3 = d31.Value };
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
