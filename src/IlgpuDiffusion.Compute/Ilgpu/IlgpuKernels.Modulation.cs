using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// adaLN modulation and the gated residual. Device code: ModulationKernels (Kernels/ModulationKernels.cs);
// the shift, scale and gate gradients are column reductions (IlgpuKernels.Columns.cs).
internal sealed partial class IlgpuKernels
{
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, int, int>? _modulateForward, _gatedResidualForward;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        int, int, int>? _modulateBackwardInput, _gatedResidualBackwardBranch;

    /// <inheritdoc/>
    public void ModulateForward(Tensor<float> input, Tensor<float> shift, Tensor<float> scale, Tensor<float> output,
        int batch, int tokens, int channels)
    {
        int elements = CheckSequences(batch, tokens, channels, input, nameof(input), output, nameof(output));
        CheckVectors(batch, channels, shift, nameof(shift), scale, nameof(scale));
        if (elements == 0) return;
        _modulateForward ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>(
                ModulationKernels.ModulateForward));
        _modulateForward(elements, input.View(), shift.View(), scale.View(), output.View(), tokens, channels);
    }

    /// <inheritdoc/>
    public void ModulateBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> scale,
        Tensor<float> dInput, Tensor<float> dShift, Tensor<float> dScale, int batch, int tokens, int channels, bool accumulate = true)
    {
        int elements = CheckSequences(batch, tokens, channels, dOutput, nameof(dOutput), input, nameof(input));
        CheckSequences(batch, tokens, channels, dInput, nameof(dInput), dInput, nameof(dInput));
        CheckVectors(batch, channels, scale, nameof(scale), dShift, nameof(dShift));
        CheckVectors(batch, channels, dScale, nameof(dScale), dScale, nameof(dScale));
        if (batch == 0) return;
        var dy = dOutput.View();
        if (elements > 0)
        {
            _modulateBackwardInput ??= _accelerator.LoadAutoGroupedStreamKernel(
                KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>>(
                    ModulationKernels.ModulateBackwardInput));
            _modulateBackwardInput(elements, dy, scale.View(), dInput.View(), tokens, channels, accumulate ? 1 : 0);
        }
        ColumnReduce(ColumnTerm.X, dy, dy, dy, dy, dShift.View(), batch, tokens, channels, accumulate);
        ColumnReduce(ColumnTerm.XTimesY, dy, input.View(), dy, dy, dScale.View(), batch, tokens, channels, accumulate);
    }

    /// <inheritdoc/>
    public void GatedResidualForward(Tensor<float> residual, Tensor<float> branch, Tensor<float> gate, Tensor<float> output,
        int batch, int tokens, int channels)
    {
        int elements = CheckSequences(batch, tokens, channels, residual, nameof(residual), branch, nameof(branch));
        CheckSequences(batch, tokens, channels, output, nameof(output), output, nameof(output));
        CheckVectors(batch, channels, gate, nameof(gate), gate, nameof(gate));
        if (elements == 0) return;
        _gatedResidualForward ??= _accelerator.LoadAutoGroupedStreamKernel(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>(
                ModulationKernels.GatedResidualForward));
        _gatedResidualForward(elements, residual.View(), branch.View(), gate.View(), output.View(), tokens, channels);
    }

    /// <inheritdoc/>
    public void GatedResidualBackward(Tensor<float> dOutput, Tensor<float> branch, Tensor<float> gate,
        Tensor<float> dBranch, Tensor<float> dGate, int batch, int tokens, int channels, bool accumulate = true)
    {
        int elements = CheckSequences(batch, tokens, channels, dOutput, nameof(dOutput), branch, nameof(branch));
        CheckSequences(batch, tokens, channels, dBranch, nameof(dBranch), dBranch, nameof(dBranch));
        CheckVectors(batch, channels, gate, nameof(gate), dGate, nameof(dGate));
        if (batch == 0) return;
        var dy = dOutput.View();
        var branchView = branch.View();
        if (elements > 0)
        {
            _gatedResidualBackwardBranch ??= _accelerator.LoadAutoGroupedStreamKernel(
                KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>>(
                    ModulationKernels.GatedResidualBackwardBranch));
            _gatedResidualBackwardBranch(elements, dy, gate.View(), dBranch.View(), tokens, channels, accumulate ? 1 : 0);
        }
        ColumnReduce(ColumnTerm.XTimesY, dy, branchView, dy, dy, dGate.View(), batch, tokens, channels, accumulate);
    }

    /// <summary>Checks sizes and two [batch, tokens, channels] tensors; returns the element count.</summary>
    private static int CheckSequences(int batch, int tokens, int channels, Tensor<float> a, string nameA, Tensor<float> b, string nameB)
    {
        Check.Sizes(true, batch, tokens);
        Check.Sizes(false, channels);
        int elements = HostChecks.Product(batch, tokens, channels);
        Check.Count(a, elements, nameA);
        Check.Count(b, elements, nameB);
        return elements;
    }

    /// <summary>Checks two [batch, channels] tensors.</summary>
    private static void CheckVectors(int batch, int channels, Tensor<float> a, string nameA, Tensor<float> b, string nameB)
    {
        Check.Count(a, (long)batch * channels, nameA);
        Check.Count(b, (long)batch * channels, nameB);
    }
}
