using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// The plain softmax cross-entropy of a next-token model. Device code: LossKernels.SubsCrossEntropy
// (Kernels/LossKernels.cs) with no MASK class.
internal sealed partial class IlgpuKernels
{
    /// <summary>The MASK index that no class has: <see cref="LossKernels.Subs"/> then never adjusts a logit.</summary>
    private const int NoMaskClass = -1;

    /// <inheritdoc/>
    /// <remarks>
    /// Runs the SUBS cross-entropy kernel with no MASK class (index −1), which is the plain softmax cross-entropy.
    /// Checks the targets on the host before launch (from their mirror, or read back).
    /// </remarks>
    public void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, float gradScale)
    {
        OpChecks.CrossEntropy(logits, targets, weights, losses, dLogits, rows, classes, vocab);
        HostChecks.Product(rows, classes);
        CheckIds(targets, rows, vocab, NoMaskClass, nameof(targets), $"target (must be in [0, {vocab}))");
        if (rows == 0) return;
        LaunchCrossEntropy(logits, targets, weights, losses, dLogits, rows, new LogitRows(classes, vocab, NoMaskClass), gradScale);
    }
}
