using ILGPU;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// TF32 copies of GEMM operands, for the kernels that stage their tiles through cp.async (TensorCoreGemmKernels.Pipelined.cs):
// cp.async carries bytes as they are, so a copy holds each value rounded as the kernels that stage through registers round
// it on their way to shared memory. Every copy is k-contiguous (k padded to 4, so a thread's group of four lies inside a
// line of the copy and starts on 16 bytes): a line-contiguous operand is transposed. Its fragments then load with ldmatrix
// as a k-contiguous operand's do, where a stage along the lines takes four word reads for an A fragment and one 8-byte read
// for a B fragment, and every TF32 product on copies runs on one kernel, Tf32PipelinedABt.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Lines of the block of a transposing copy that one warp takes: 8 of them, over 4 quads of k each.</summary>
    private const int TransposedLines = 8;

    /// <summary>
    /// Threads of a TF32 copy (<see cref="CopyTf32"/>) of <paramref name="lines"/> lines of <paramref name="quadsPerLine"/>.
    /// </summary>
    public static long Tf32CopyThreads(int lines, int quadsPerLine, bool transposed) => transposed
        ? (long)Mma.WarpLanes * ((lines + TransposedLines - 1) / TransposedLines) * ((quadsPerLine + 3) / 4)
        : (long)lines * quadsPerLine;

    /// <summary>
    /// One quad (four words) of a TF32 copy of an operand of <paramref name="lines"/> lines over <paramref name="k"/>,
    /// element (line, k) at x[line·<paramref name="lineStride"/> + k·<paramref name="kStride"/>], rounded to TF32 (0 past the
    /// operand): line l of the copy holds the operand's line l, <paramref name="quadsPerLine"/> quads. Not
    /// <paramref name="transposed"/> (k's stride is 1), thread q writes quad q; where <paramref name="vector"/> says so (the
    /// lines' stride a multiple of 4, the view on 16 bytes), a quad wholly inside the operand loads with one 16-byte load.
    /// Transposed, a warp takes a block of 8 lines by 4 quads (<see cref="Tf32CopyThreads"/>): each of its four loads reads
    /// 8 consecutive words at 4 of k (four whole 32-byte sectors of a line-contiguous operand), and it writes 64
    /// consecutive bytes of each of the 8 lines of the copy, where a warp along one k would write 16 bytes to each of 32.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void CopyTf32(Index1D thread, ArrayView<float> x, ArrayView<float> copy, int lines, int k, int lineStride,
        int kStride, int quadsPerLine, int transposed, int vector)
    {
        int line, group;
        if (transposed != 0)
        {
            int block = thread / Mma.WarpLanes, lane = thread - block * Mma.WarpLanes;
            int lineBlocks = (lines + TransposedLines - 1) / TransposedLines, kBlock = block / lineBlocks;
            line = TransposedLines * (block - kBlock * lineBlocks) + lane % TransposedLines;
            group = 4 * kBlock + lane / TransposedLines;
            if (line >= lines || group >= quadsPerLine) return;
        }
        else
        {
            line = thread / quadsPerLine;
            group = thread - line * quadsPerLine;
        }
        int first = 4 * group;
        var source = new Tf32Source(x, lines, k, lineStride, kStride);
        Quad words = vector != 0 && first + 4 <= k
            ? source.Group(line, first)
            : new Quad(source[line, first], source[line, first + 1], source[line, first + 2], source[line, first + 3]);
        copy.SubView(4 * ((long)line * quadsPerLine + group), 4).Cast<Quad>().AsAligned(16)[0] = words;
    }

    /// <summary>An operand's elements by (line, k), rounded to TF32, 0 past its lines or its k.</summary>
    private readonly struct Tf32Source(ArrayView<float> x, int lines, int k, int lineStride, int kStride)
    {
        public float this[int line, int at] => line < lines && at < k ? TensorCoreRounding.Tf32(x[Index(line, at)]) : 0f;

        /// <summary>Elements (line, at) .. (line, at + 3), rounded, one 16-byte load: k's stride is 1, and they all exist.</summary>
        public Quad Group(int line, int at)
        {
            var q = x.SubView(Index(line, at), 4).Cast<Quad>().AsAligned(16)[0];
            return new(TensorCoreRounding.Tf32(q.X), TensorCoreRounding.Tf32(q.Y), TensorCoreRounding.Tf32(q.Z),
                TensorCoreRounding.Tf32(q.W));
        }

        private long Index(int line, int at) => (long)line * lineStride + (long)at * kStride;
    }
}
