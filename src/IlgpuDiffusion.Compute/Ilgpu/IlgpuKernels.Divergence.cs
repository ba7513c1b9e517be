using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// SDTT divergences fused with their student-logit gradient. Device code: DivergenceKernels (Kernels/DivergenceKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        DivergenceArguments>? _divergence;

    /// <inheritdoc/>
    public void DivergenceForwardBackward(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs,
        Tensor<float> values, Tensor<float>? dStudentLogits, int rows, int classes, int vocab, int maskIndex, float gradScale)
    {
        if ((uint)divergence > (uint)Divergence.LogProbL1)
            throw new ArgumentOutOfRangeException(nameof(divergence), $"Unknown divergence {divergence}.");
        OpChecks.SubsRows(rows, classes, vocab, maskIndex, (studentLogits, nameof(studentLogits)),
            (teacherLogProbs, nameof(teacherLogProbs)), (dStudentLogits, nameof(dStudentLogits)));
        HostChecks.Product(rows, classes);
        Check.Count(values, rows, nameof(values));
        if (rows == 0) return;
        _divergence ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, DivergenceArguments>>(
                DivergenceKernels.ForwardBackward));
        var student = studentLogits.View();
        _divergence(_stream, _plan.Rows(rows), student, teacherLogProbs.View(), values.View(), dStudentLogits?.View() ?? student,
            new DivergenceArguments((int)divergence, new LogitRows(classes, vocab, maskIndex), gradScale, dStudentLogits is null ? 0 : 1));
    }
}
