using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// SDTT's loss on the device (docs/algorithms.md §4.2, §4.4): the divergence between the student's SUBS log-probs and the
/// teacher's targets, summed over a chunk of masked rows, with its gradient with respect to the student logits. The step's
/// loss is the mean over all its masked rows (PyTorch's <c>batchmean</c>: no 1/t weight, every masked position counts the
/// same), so the caller divides the chunks' sums by the rows and scales the gradient by their reciprocal. Sized once for
/// the largest chunk; allocates nothing per call.
/// </summary>
internal sealed class DistillationLoss : IDisposable
{
    private readonly Tensor<float> _values;
    private readonly float[] _hostValues;

    /// <summary>
    /// Allocates buffers for chunks of up to <paramref name="maxRows"/> rows of <paramref name="classes"/> classes (MASK last).
    /// </summary>
    public DistillationLoss(Device device, int maxRows, int classes)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        Classes = classes;
        _values = device.AllocateTensor<float>(new Shape(maxRows));
        _hostValues = new float[maxRows];
    }

    /// <summary>V: classes per row, MASK last.</summary>
    public int Classes { get; }

    /// <summary>
    /// Returns Σ_r D(student_r ‖ teacher_r) over the chunk's rows, summed in double; when <paramref name="dStudentLogits"/> is
    /// given it is overwritten with <paramref name="rowGradientScale"/>·∂D_r/∂logits_r. No rows give 0.
    /// </summary>
    /// <param name="studentLogits">[rows, V] raw student logits</param>
    /// <param name="teacherLogProbs">[rows, V] the teacher's log-probs, row for row</param>
    /// <param name="dStudentLogits">[rows, V] or null; may alias <paramref name="studentLogits"/></param>
    /// <param name="rowGradientScale">The weight of a row in the step's loss, e.g. 1/(accumulation · masked rows).</param>
    public double Sum(Divergence divergence, Tensor<float> studentLogits, Tensor<float> teacherLogProbs,
        Tensor<float>? dStudentLogits, int rows, float rowGradientScale)
    {
        if (rows < 0 || rows > _hostValues.Length)
            throw new ArgumentOutOfRangeException(nameof(rows), $"Rows must be in [0, {_hostValues.Length}]; got {rows}.");
        if (rows == 0) return 0;
        Tensor<float> rowValues = _values.Slice(0, rows);
        studentLogits.Device.Kernels.DivergenceForwardBackward(divergence, studentLogits, teacherLogProbs, rowValues,
            dStudentLogits, rows, Classes, Classes - 1, rowGradientScale);
        rowValues.CopyTo(_hostValues.AsSpan(0, rows));
        double sum = 0;
        for (int r = 0; r < rows; r++) sum += _hostValues[r];
        return sum;
    }

    /// <inheritdoc/>
    public void Dispose() => _values.Buffer.Dispose();
}
