using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// adaLN modulation and the gated residual. Device code: ModulationKernels (Kernels/ModulationKernels.cs); each
// backward is one pass that also takes the shift, scale or gate gradient's token sums, as column reductions do
// (IlgpuKernels.Columns.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>?
        _modulateForward;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int,
        BranchDropout>? _gatedResidualForward;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ModulationBackwardArguments, BranchDropout>? _modulationBackward;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>? _sumChunkVectors;

    /// <inheritdoc/>
    public void ModulateForward(Tensor<float> input, Tensor<float> shift, Tensor<float> scale, Tensor<float> output,
        int batch, int tokens, int channels)
    {
        int elements = CheckSequences(batch, tokens, channels, input, nameof(input), output, nameof(output));
        CheckVectors(batch, channels, shift, nameof(shift), scale, nameof(scale));
        if (elements == 0) return;
        _modulateForward ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>(
                ModulationKernels.ModulateForward));
        _modulateForward(_stream, elements, input.View(), shift.View(), scale.View(), output.View(), tokens, channels);
    }

    /// <inheritdoc/>
    public void ModulateBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> scale,
        Tensor<float> dInput, Tensor<float> dShift, Tensor<float> dScale, int batch, int tokens, int channels, bool accumulate = true)
    {
        CheckSequences(batch, tokens, channels, dOutput, nameof(dOutput), input, nameof(input));
        CheckSequences(batch, tokens, channels, dInput, nameof(dInput), dInput, nameof(dInput));
        CheckVectors(batch, channels, scale, nameof(scale), dShift, nameof(dShift));
        CheckVectors(batch, channels, dScale, nameof(dScale), dScale, nameof(dScale));
        BackwardWithColumns(dOutput, input, scale, dInput, dShift, dScale, offset: 1f, sums: 2, batch, tokens, channels, accumulate,
            default);
    }

    /// <inheritdoc/>
    public void GatedResidualForward(Tensor<float> residual, Tensor<float> branch, Tensor<float> gate, Tensor<float> output,
        int batch, int tokens, int channels, DropoutMask? dropout = null)
    {
        int elements = CheckSequences(batch, tokens, channels, residual, nameof(residual), branch, nameof(branch));
        CheckSequences(batch, tokens, channels, output, nameof(output), output, nameof(output));
        CheckVectors(batch, channels, gate, nameof(gate), gate, nameof(gate));
        var branchDropout = Branch(dropout);
        if (elements == 0) return;
        _gatedResidualForward ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int,
                BranchDropout>>(ModulationKernels.GatedResidualForward));
        _gatedResidualForward(_stream, elements, residual.View(), branch.View(), gate.View(), output.View(), tokens, channels,
            branchDropout);
    }

    /// <inheritdoc/>
    public void GatedResidualBackward(Tensor<float> dOutput, Tensor<float> branch, Tensor<float> gate,
        Tensor<float> dBranch, Tensor<float> dGate, int batch, int tokens, int channels, bool accumulate = true,
        DropoutMask? dropout = null)
    {
        CheckSequences(batch, tokens, channels, dOutput, nameof(dOutput), branch, nameof(branch));
        CheckSequences(batch, tokens, channels, dBranch, nameof(dBranch), dBranch, nameof(dBranch));
        CheckVectors(batch, channels, gate, nameof(gate), dGate, nameof(dGate));
        BackwardWithColumns(dOutput, branch, gate, dBranch, dGate, dGate, offset: 0f, sums: 1, batch, tokens, channels, accumulate,
            Branch(dropout));
    }

    /// <summary>A dropout mask as the kernels take it (disabled for none), its probability checked.</summary>
    private static BranchDropout Branch(DropoutMask? dropout) => dropout is { } mask
        ? new BranchDropout(mask.Probability, DropoutScale(mask.Probability), mask.Seed, mask.Stream, 1)
        : default;

    /// <summary>
    /// Runs <see cref="ModulationKernels.BackwardWithColumns"/> over checked shapes (token chunks as
    /// <see cref="ColumnReduce"/> cuts them), then, with several chunks, <see cref="ColumnKernels.SumChunkVectors"/> on its
    /// partials. With no tokens the sums are still written (as zeros) or added (nothing).
    /// </summary>
    private void BackwardWithColumns(Tensor<float> dOutput, Tensor<float> x, Tensor<float> vector, Tensor<float> dElement,
        Tensor<float> first, Tensor<float> second, float offset, int sums, int batch, int tokens, int channels, bool accumulate,
        BranchDropout dropout)
    {
        if (batch == 0) return;
        int chunkTokens = _plan.ColumnY * _plan.ColumnRowsPerLane;
        int chunks = Math.Max(1, LaunchPlan.Ceil(tokens, chunkTokens));
        var columns = new ColumnArguments(batch, tokens, channels, Term: 0, chunkTokens, chunks, accumulate ? 1 : 0);
        _modulationBackward ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ModulationBackwardArguments, BranchDropout>>(ModulationKernels.BackwardWithColumns));
        var arguments = new ModulationBackwardArguments(columns, offset, sums);
        var config = _plan.Columns(batch, channels, chunks);
        var (dy, xView, vectorView, dElementView) = (dOutput.View(), x.View(), vector.View(), dElement.View());
        if (chunks == 1)
        {
            _modulationBackward(_stream, config, dy, xView, vectorView, dElementView, first.View(), second.View(), arguments, dropout);
            return;
        }
        int vectorLength = batch * channels;
        var partials = Scratch(ref _columnScratch, HostChecks.Product(chunks, sums, vectorLength));
        _modulationBackward(_stream, config, dy, xView, vectorView, dElementView, partials, partials, arguments, dropout);
        _sumChunkVectors ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>>(
                ColumnKernels.SumChunkVectors));
        _sumChunkVectors(_stream, sums * vectorLength, partials, first.View(), second.View(), chunks, sums, vectorLength,
            accumulate ? 1 : 0);
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
