using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The layout of a copy of a GEMM operand that the tensor-core GEMMs read in its place. BF16
/// (<see cref="TensorCoreGemmKernels.CopyBf16"/>): the elements along the operand's contiguous axis (k where k's stride is
/// 1, else the lines: rows of op(a), columns of op(b)) packed in pairs, that axis padded with zeros to
/// <see cref="TensorCoreGemmKernels.CopyAlignment"/> elements. TF32 (<see cref="TensorCoreGemmKernels.CopyTf32"/>): the
/// elements rounded to TF32, k-contiguous whatever the operand's layout (a line-contiguous operand is
/// <see cref="Transposed"/>), a line of k padded to 4, so that a thread's groups reach the k-contiguous stages as they are
/// and every TF32 product on copies is one kernel's (<see cref="TensorCoreGemmKernels.Tf32PipelinedABt"/>).
/// </summary>
internal readonly struct GemmCopy
{
    /// <summary>
    /// The copy of an operand of <paramref name="lines"/> lines over <paramref name="k"/>, with the given strides, in BF16 or
    /// (<paramref name="bf16"/> false) TF32.
    /// </summary>
    public GemmCopy(int lines, int k, int lineStride, int kStride, bool bf16)
    {
        bool kContiguous = kStride == 1;
        (Bf16, Transposed, Lines, K) = (bf16, !bf16 && !kContiguous, lines, k);
        (SourceLineStride, SourceKStride) = (lineStride, kStride);
        if (bf16)
        {
            int inner = kContiguous ? k : lines, padded = Padded(inner, TensorCoreGemmKernels.CopyAlignment);
            (WordsPerRow, Rows) = (padded / 2, kContiguous ? lines : k);
            (LineStride, KStride) = kContiguous ? (padded, 1) : (1, padded);
        }
        else
        {
            (WordsPerRow, Rows) = (Padded(k, 4), lines);
            (LineStride, KStride) = (WordsPerRow, 1);
        }
        Words = (long)Rows * WordsPerRow;
    }

    /// <summary>Whether the copy is BF16 (else TF32).</summary>
    public bool Bf16 { get; }

    /// <summary>Whether the copy is a TF32 one of a line-contiguous operand, which it transposes.</summary>
    public bool Transposed { get; }

    /// <summary>The operand's lines (rows of op(a), columns of op(b)).</summary>
    public int Lines { get; }

    /// <summary>The operand's k.</summary>
    public int K { get; }

    /// <summary>Words of a row of the copy (a multiple of 4).</summary>
    public int WordsPerRow { get; }

    /// <summary>Rows of the copy.</summary>
    public int Rows { get; }

    /// <summary>Words of the whole copy.</summary>
    public long Words { get; }

    /// <summary>The operand's stride between lines.</summary>
    public int SourceLineStride { get; }

    /// <summary>The operand's stride along k.</summary>
    public int SourceKStride { get; }

    /// <summary>Elements of the operand along its contiguous axis (k where k's stride is 1, else the lines).</summary>
    public int Inner => SourceKStride == 1 ? K : Lines;

    /// <summary>The operand's stride along its contiguous axis (1 unless neither of its strides is).</summary>
    public int SourceInnerStride => SourceKStride == 1 ? 1 : SourceLineStride;

    /// <summary>The operand's stride along its other axis.</summary>
    public int SourceOuterStride => SourceKStride == 1 ? SourceLineStride : SourceKStride;

    /// <summary>The stride, in elements, between the operand's lines in the copy.</summary>
    public int LineStride { get; }

    /// <summary>The stride, in elements, along k in the copy.</summary>
    public int KStride { get; }

    /// <summary>
    /// Whether a copy of the same operand in <paramref name="other"/>'s layout holds the same words: the same elements in
    /// the same places, whichever of the operand's axes op(·) takes along k (BF16 copies of a·b's op(a) and of aᵀ·b's op(a)
    /// of one matrix are alike; TF32 ones are not, one of them transposed).
    /// </summary>
    public bool SameWords(in GemmCopy other) => Bf16 == other.Bf16 && Transposed == other.Transposed &&
        Inner == other.Inner && Rows == other.Rows && WordsPerRow == other.WordsPerRow &&
        SourceInnerStride == other.SourceInnerStride && SourceOuterStride == other.SourceOuterStride;

    private static int Padded(int x, int multiple) => LaunchPlan.Ceil(x, multiple) * multiple;
}
