using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The layout of a BF16 copy of a GEMM operand (<see cref="TensorCoreGemmKernels.CopyBf16"/>): its elements along the
/// operand's contiguous axis (k where k's stride is 1, else the lines: rows of op(a), columns of op(b)) packed in pairs,
/// that axis padded with zeros to <see cref="TensorCoreGemmKernels.CopyAlignment"/> elements.
/// </summary>
internal readonly struct Bf16Copy
{
    /// <summary>The copy of an operand of <paramref name="lines"/> lines over <paramref name="k"/>, with the given strides.</summary>
    public Bf16Copy(int lines, int k, int lineStride, int kStride)
    {
        bool kContiguous = kStride == 1;
        Inner = kContiguous ? k : lines;
        int padded = LaunchPlan.Ceil(Inner, TensorCoreGemmKernels.CopyAlignment) * TensorCoreGemmKernels.CopyAlignment;
        WordsPerLine = padded / 2;
        Words = (long)(kContiguous ? lines : k) * WordsPerLine;
        (SourceLineStride, SourceInnerStride) = kContiguous ? (lineStride, 1) : (kStride, lineStride);
        (LineStride, KStride) = kContiguous ? (padded, 1) : (1, padded);
    }

    /// <summary>Elements of a line of the operand along its contiguous axis.</summary>
    public int Inner { get; }

    /// <summary>Words (BF16 pairs) of a line of the copy.</summary>
    public int WordsPerLine { get; }

    /// <summary>Words of the whole copy.</summary>
    public long Words { get; }

    /// <summary>The operand's stride between lines of the copy (along its other axis).</summary>
    public int SourceLineStride { get; }

    /// <summary>The operand's stride along its contiguous axis (1 unless neither of its strides is).</summary>
    public int SourceInnerStride { get; }

    /// <summary>The copy's stride, in elements, between the operand's lines (rows of op(a), columns of op(b)).</summary>
    public int LineStride { get; }

    /// <summary>The copy's stride, in elements, along k.</summary>
    public int KStride { get; }

    /// <summary>
    /// Whether a copy of the same operand in <paramref name="other"/>'s layout holds the same words: the same lines of the
    /// same elements, whichever of them op(·) takes along k (a·b's op(a) and aᵀ·b's op(a) of one matrix are copied alike).
    /// </summary>
    public bool SameWords(in Bf16Copy other) => Inner == other.Inner && WordsPerLine == other.WordsPerLine &&
        Words == other.Words && SourceLineStride == other.SourceLineStride && SourceInnerStride == other.SourceInnerStride;
}
