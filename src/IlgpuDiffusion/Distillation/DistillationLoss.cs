using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// SDTT's loss on the device (docs/algorithms.md §4.2, §4.4): the divergence between the student's SUBS log-probs and the
/// teacher's targets, summed over a chunk of masked rows, with its gradient with respect to the student logits. The step's
/// loss is the mean over all its masked rows (PyTorch's <c>batchmean</c>: no 1/t weight, every masked position counts the
/// same), so the caller divides the chunks' sums by the rows and scales the gradient by their reciprocal. Allocates
/// nothing per call.
/// </summary>
internal sealed class DistillationLoss
{
    /// <summary>Takes chunks of up to <paramref name="maxRows"/> rows laid out as <paramref name="head"/>.</summary>
    public DistillationLoss(int maxRows, HeadLayout head)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        MaxRows = maxRows;
        Head = head.Validate(nameof(head));
    }

    /// <summary>The columns of a row: the vocabulary (MASK last), then any padding.</summary>
    public HeadLayout Head { get; }

    /// <summary>Rows of the largest chunk.</summary>
    public int MaxRows { get; }

    /// <summary>
    /// Queues D(student_r ‖ teacher_r) of the chunk's rows into <paramref name="rowValues"/> without waiting for them (the
    /// distiller reads them with the step's gradient norm); when <paramref name="dStudentLogits"/> is given it is
    /// overwritten with <paramref name="rowGradientScale"/>·∂D_r/∂logits_r. No rows queue nothing.
    /// </summary>
    /// <param name="studentLogits">[rows, Head.Width] raw student logits</param>
    /// <param name="teacherLogProbs">[rows, Head.Width] the teacher's log-probs, row for row</param>
    /// <param name="dStudentLogits">[rows, Head.Width] or null (0 on the padding); may alias <paramref name="studentLogits"/></param>
    /// <param name="rowGradientScale">The weight of a row in the step's loss, e.g. 1/(accumulation · masked rows).</param>
    /// <param name="rowValues">[rows]</param>
    public void Queue(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs,
        Tensor<float>? dStudentLogits, int rows, float rowGradientScale, Tensor<float> rowValues)
    {
        if (rows < 0 || rows > MaxRows)
            throw new ArgumentOutOfRangeException(nameof(rows), $"Rows must be in [0, {MaxRows}]; got {rows}.");
        if (rows == 0) return;
        studentLogits.Device.Kernels.DivergenceForwardBackward(divergence, studentLogits, teacherLogProbs, rowValues,
            dStudentLogits, rows, Head.Width, Head.Vocab, Head.MaskIndex, rowGradientScale);
    }
}
