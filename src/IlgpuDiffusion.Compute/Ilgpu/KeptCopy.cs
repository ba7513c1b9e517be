using ILGPU;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// A BF16 copy of a GEMM operand that its caller keeps beyond one product (<see cref="TensorCoreGemm.Run"/>), laid out as
/// <see cref="GemmCopy"/> says: a product given one that is not <see cref="Made"/> makes it there, where the copies workspace
/// would have held it (a linear layer's forward keeps its input's copy); one that is made is read in place of a copy (the
/// layer's weight gradient). The default is none.
/// </summary>
/// <param name="View">The caller's words, at least the copy's.</param>
/// <param name="Made">Whether the words already hold the copy.</param>
internal readonly record struct KeptCopy(ArrayView<float> View, bool Made)
{
    /// <summary>Whether there is a kept copy (else the product makes its copies in its workspace, as usual).</summary>
    public bool Given => View.IsValid;
}
