using ILGPU;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// TF32 copies of GEMM operands, for the kernels that stage their tiles through cp.async (TensorCoreGemmKernels.Pipelined.cs):
// cp.async carries bytes as they are, so a copy holds them as the TF32 stages do (StageWord), each rounded as the kernels
// that stage through registers round it on its way to shared memory. A k-contiguous operand keeps its layout (k padded to
// 4, so a thread's group of four lies inside a line of the copy and starts on 16 bytes); a line-contiguous one, whose stage
// interleaves k and k + 4 (the two values of a fragment that share a line, one 8-byte read), is interleaved so in the copy:
// a thread's share of a tile, four lines at k and k + 4, is then 32 consecutive bytes of it, two cp.async.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>The row of an interleaved TF32 copy that holds <paramref name="k"/> (k mod 8 &lt; 4) and k + 4.</summary>
    public static int Tf32CopyRow(int k) => (k & 3) + 4 * (k >> 3);

    /// <summary>Rows of an interleaved TF32 copy over <paramref name="k"/>: four for every 8 of k, k padded to 8.</summary>
    public static int Tf32CopyRows(int k) => 4 * ((k + 7) >> 3);

    /// <summary>
    /// Quad q (words 4q .. 4q + 3) of a TF32 copy of an operand of <paramref name="lines"/> lines over <paramref name="k"/>,
    /// element (line, k) at x[line·<paramref name="lineStride"/> + k·<paramref name="kStride"/>], rounded to TF32 (0 past the
    /// operand). Rows of <paramref name="quadsPerRow"/> quads. Not <paramref name="interleaved"/>: row = line, word = k.
    /// Interleaved: row r holds k = 8·(r / 4) + r mod 4 and k + 4, word 2·line + (0 for k, 1 for k + 4). Where
    /// <paramref name="vector"/> says so (not interleaved: k's stride is 1, the lines' a multiple of 4, the view on 16
    /// bytes; interleaved: the lines' stride is 1, k's even, the view on 8 bytes), a quad wholly inside the operand loads
    /// with one 16-byte load, or two 8-byte ones, not four.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void CopyTf32(Index1D quad, ArrayView<float> x, ArrayView<float> copy, int lines, int k, int lineStride,
        int kStride, int quadsPerRow, int interleaved, int vector)
    {
        int row = quad / quadsPerRow, word = 4 * (quad - row * quadsPerRow);
        var source = new Tf32Source(x, lines, k, lineStride, kStride);
        Quad words;
        if (interleaved != 0)
        {
            int line = word >> 1, first = 8 * (row >> 2) + (row & 3);
            if (vector != 0 && line + 2 <= lines && first + 4 < k)
            {
                var (atK, atK4) = (source.Pair(line, first), source.Pair(line, first + 4));
                words = new Quad(atK.Low, atK4.Low, atK.High, atK4.High);
            }
            else
            {
                words = new Quad(source[line, first], source[line, first + 4], source[line + 1, first], source[line + 1, first + 4]);
            }
        }
        else if (vector != 0 && row < lines && word + 4 <= k)
        {
            words = source.Group(row, word);
        }
        else
        {
            words = new Quad(source[row, word], source[row, word + 1], source[row, word + 2], source[row, word + 3]);
        }
        copy.SubView(4L * quad, 4).Cast<Quad>().AsAligned(16)[0] = words;
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

        /// <summary>Elements (line, at) and (line + 1, at), rounded, one 8-byte load: the lines' stride is 1, both exist.</summary>
        public Tf32Pair Pair(int line, int at)
        {
            var pair = x.SubView(Index(line, at), 2).Cast<Tf32Pair>().AsAligned(8)[0];
            return new(TensorCoreRounding.Tf32(pair.Low), TensorCoreRounding.Tf32(pair.High));
        }

        private long Index(int line, int at) => (long)line * lineStride + (long)at * kStride;
    }
}
