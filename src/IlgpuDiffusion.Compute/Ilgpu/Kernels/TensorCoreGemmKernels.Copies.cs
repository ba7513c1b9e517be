using ILGPU;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// BF16 GEMMs over BF16 copies of their operands. The BF16 kernels read fp32 operands, 4 bytes an element, from L2 for
// every tile: at 128 × 128 tiles that is 1/16 byte per multiply-add, and on an H200 (ncu of the first TF32 kernel: L2
// 10.5% busy at 22 TFLOP/s) it caps a GEMM near 200 TFLOP/s, below half of torch.matmul's BF16 rate (577–697 TFLOP/s on
// the block GEMMs, bench/results/cuda-h200-tensor-cores.md). A copy holds an operand as BF16 pairs along its contiguous
// axis, packed as the stages pack them (CopyBf16), so the kernels read half the bytes and stage each group of eight with
// one 16-byte load and one 16-byte store, nothing to convert or pack in the k loop.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>
    /// Elements a copy's lines are padded to (with zeros) along its contiguous axis: a group's length, so that every group a
    /// thread loads (they start on multiples of 8 of that axis: tiles of 128 lines, k-splits of whole tiles of 32) lies
    /// wholly inside a line of the copy, and every line starts on 16 bytes.
    /// </summary>
    public const int CopyAlignment = 8;

    /// <summary>
    /// Group (j, line o) of a BF16 copy = elements 8j .. 8j + 7 of line o along the operand's contiguous axis (inner),
    /// rounded to BF16 as the BF16 kernels round them when they stage them and packed in pairs (the first in the low half),
    /// 0 from the operand's <paramref name="inner"/> length on: four words, one 16-byte store. One thread a group,
    /// <paramref name="groupsPerLine"/> groups a line; 16-byte loads where <paramref name="vector"/> says the operand's lines
    /// start on 16 bytes and run with stride 1, and the group lies inside the line.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void CopyBf16(Index1D group, ArrayView<float> x, ArrayView<float> copy, int inner, int groupsPerLine,
        int lineStride, int innerStride, int vector)
    {
        int line = group / groupsPerLine, first = CopyAlignment * (group - line * groupsPerLine);
        long at = (long)line * lineStride + (long)first * innerStride;
        Quad low, high;
        if (vector != 0 && first + CopyAlignment <= inner)
        {
            var quads = x.SubView(at, CopyAlignment).Cast<Quad>().AsAligned(16);
            (low, high) = (quads[0], quads[1]);
        }
        else
        {
            low = new Quad(Source(x, at, first, inner, innerStride, 0), Source(x, at, first, inner, innerStride, 1),
                Source(x, at, first, inner, innerStride, 2), Source(x, at, first, inner, innerStride, 3));
            high = new Quad(Source(x, at, first, inner, innerStride, 4), Source(x, at, first, inner, innerStride, 5),
                Source(x, at, first, inner, innerStride, 6), Source(x, at, first, inner, innerStride, 7));
        }
        copy.SubView(4L * group.X, 4).Cast<Quad>().AsAligned(16)[0] = Packed(low, high);
    }

    /// <summary>Element <paramref name="first"/> + <paramref name="i"/> of a copy's line, or 0 past its end.</summary>
    private static float Source(ArrayView<float> x, long at, int first, int inner, int innerStride, int i) =>
        first + i < inner ? x[at + (long)i * innerStride] : 0f;

    /// <summary>BF16 on copies, op(a) k-contiguous, op(b) k-contiguous (c = a·bᵀ).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16CopiesABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16CopyProducts, KContiguous, KContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies, op(a) k-contiguous, op(b) column-contiguous (c = a·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16CopiesAB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16CopyProducts, KContiguous, LineContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies, op(a) row-contiguous, op(b) column-contiguous (c = aᵀ·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16CopiesAtB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16CopyProducts, LineContiguous, LineContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>BF16 on copies, op(a) row-contiguous, op(b) k-contiguous (aᵀ·b when b has one column).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16CopiesAtBt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16CopyProducts, LineContiguous, KContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>The BF16 products, over operands that are BF16 copies (see <see cref="CopyBf16"/>).</summary>
    private readonly struct Bf16CopyProducts : IProducts
    {
        public bool Bf16 => true;

        public bool Copies => true;

        public int Blocks => 1;

        public WarpAccumulators Accumulate(WarpAccumulators w, in StageFragments s, bool aK, bool bK) =>
            default(Bf16Products).Accumulate(w, s, aK, bK);
    }

    /// <summary>
    /// This thread's two groups of a copy's tile that starts <paramref name="tileK"/> into the split, element 0 at (element)
    /// index <paramref name="first"/>: a 16-byte load of four packed words each, or 0 for a group past the operand's lines or
    /// the split's k. A group lies wholly inside a line of the copy or wholly outside (see <see cref="CopyAlignment"/>), so
    /// its first element decides.
    /// </summary>
    private static Staged LoadCopy(ArrayView<float> x, in OperandCopy copy, long first, int tileK, bool kContiguous)
    {
        int n = GroupLength(true), second = copy.GroupStep >> 3; // a group's elements, halved to words, in quads of four words
        bool whole = copy.LinesLeft > LineOffset(n, kContiguous, true) && tileK + KOffset(n, kContiguous, true) < copy.KLeft;
        if (whole)
        {
            var groups = x.SubView(first >> 1).Cast<Quad>().AsAligned(16);
            return new Staged { First = groups[0], Second = groups[second] };
        }
        Quad firstGroup = CopyGroup(x, first, copy, tileK, kContiguous, 0), secondGroup = CopyGroup(x, first, copy, tileK, kContiguous, n);
        return new Staged { First = firstGroup, Second = secondGroup };
    }

    /// <summary>The group of an edge tile whose first element is element <paramref name="i"/> of the thread's share, or 0.</summary>
    private static Quad CopyGroup(ArrayView<float> x, long first, in OperandCopy copy, int tileK, bool kContiguous, int i)
    {
        bool inside = LineOffset(i, kContiguous, true) < copy.LinesLeft && tileK + KOffset(i, kContiguous, true) < copy.KLeft;
        return inside ? x.SubView((first + Offset(copy, i, GroupLength(true))) >> 1, 4).Cast<Quad>().AsAligned(16)[0] : default;
    }

    /// <summary>Stores a thread's two groups of a copy's tile as they were loaded: packed already, in the stage's order.</summary>
    private static void StoreCopy(ArrayView<float> at, in Staged staged, bool kContiguous)
    {
        var quads = at.Cast<Quad>().AsAligned(16);
        quads[0] = staged.First;
        quads[SecondGroupWords(kContiguous, true) >> 2] = staged.Second;
    }
}
