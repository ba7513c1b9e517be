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
        Tensor<float> values, Tensor<float>? dStudentLogits, int rows, int classes, int maskIndex, float gradScale)
    {
        if ((uint)divergence > (uint)Divergence.LogProbL1)
            throw new ArgumentOutOfRangeException(nameof(divergence), $"Unknown divergence {divergence}.");
        CheckClassRows(rows, classes, maskIndex, studentLogits, nameof(studentLogits));
        Check.Count(teacherLogProbs, (long)rows * classes, nameof(teacherLogProbs));
        Check.Count(dStudentLogits, (long)rows * classes, nameof(dStudentLogits));
        Check.Count(values, rows, nameof(values));
        if (rows == 0) return;
        _divergence ??= _accelerator.LoadKernel(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, DivergenceArguments>>(
                DivergenceKernels.ForwardBackward));
        var student = studentLogits.View();
        _divergence(_stream, _plan.Rows(rows), student, teacherLogProbs.View(), values.View(), dStudentLogits?.View() ?? student,
            new DivergenceArguments((int)divergence, classes, maskIndex, gradScale, dStudentLogits is null ? 0 : 1));
    }
}
