using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// The SUBS log-softmax and the fused SUBS cross-entropy. Device code: LossKernels (Kernels/LossKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, LogitRows>? _subsLogSoftmax;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        LogitRows, float, int>? _subsCrossEntropy;

    /// <inheritdoc/>
    public void SubsLogSoftmax(Tensor<float> logits, Tensor<float> logProbs, int rows, int classes, int vocab, int maskIndex)
    {
        OpChecks.SubsRows(rows, classes, vocab, maskIndex, (logits, nameof(logits)), (logProbs, nameof(logProbs)));
        HostChecks.Product(rows, classes);
        if (rows == 0) return;
        _subsLogSoftmax ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, LogitRows>>(LossKernels.SubsLogSoftmax));
        _subsLogSoftmax(_stream, _plan.Rows(rows), logits.View(), logProbs.View(), new LogitRows(classes, vocab, maskIndex));
    }

    /// <inheritdoc/>
    /// <remarks>Reads the targets back to the host (one synchronizing copy of rows ints) to reject bad ids before launch.</remarks>
    public void SubsCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes, int vocab, int maskIndex, float gradScale)
    {
        OpChecks.SubsRows(rows, classes, vocab, maskIndex, (logits, nameof(logits)), (dLogits, nameof(dLogits)));
        HostChecks.Product(rows, classes);
        Check.Count(weights, rows, nameof(weights));
        Check.Count(losses, rows, nameof(losses));
        CheckIds(targets, rows, vocab, maskIndex, nameof(targets), $"target (must be in [0, {vocab}) and not MASK {maskIndex})");
        if (rows == 0) return;
        LaunchCrossEntropy(logits, targets, weights, losses, dLogits, rows, new LogitRows(classes, vocab, maskIndex), gradScale);
    }

    /// <summary>
    /// Runs <see cref="LossKernels.SubsCrossEntropy"/> on rows ≥ 1 already checked; a MASK index outside the classes
    /// makes it the plain cross-entropy (<see cref="CrossEntropy"/>).
    /// </summary>
    private void LaunchCrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, LogitRows layout, float gradScale)
    {
        _subsCrossEntropy ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<int>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, LogitRows, float, int>>(LossKernels.SubsCrossEntropy));
        var logitsView = logits.View();
        _subsCrossEntropy(_stream, _plan.Rows(rows), logitsView, targets.View(), weights.View(), losses.View(),
            dLogits?.View() ?? logitsView, layout, gradScale, dLogits is null ? 0 : 1);
    }
}
