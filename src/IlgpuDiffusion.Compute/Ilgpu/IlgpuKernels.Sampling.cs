using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Categorical draws and argmax, one group per row. Device code: SamplingKernels (Kernels/SamplingKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, SamplingArguments>? _sample;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int, int>? _argmax;

    /// <inheritdoc/>
    public void SampleCategorical(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters)
    {
        OpChecks.Sampling(logits, ids, rows, classes, vocab, parameters);
        HostChecks.Product(rows, classes);
        if (rows == 0) return;
        _sample ??= _accelerator.LoadKernel(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<int>, SamplingArguments>>(SamplingKernels.Sample));
        var arguments = new SamplingArguments(classes, vocab, 1.0 / parameters.Temperature, parameters.TopP,
            parameters.Seed, parameters.Step, parameters.TopP < 1f ? 1 : 0, parameters.Draw == CategoricalDraw.InverseCdf ? 1 : 0,
            parameters.FirstRow);
        ForgetHostIds(ids);
        _sample(_stream, _plan.Sampling(rows), logits.View(), ids.View(), arguments);
    }

    /// <inheritdoc/>
    public void Argmax(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab)
    {
        CheckSampling(logits, ids, rows, classes, vocab);
        if (rows == 0) return;
        _argmax ??= _accelerator.LoadKernel(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<int>, int, int>>(SamplingKernels.Argmax));
        ForgetHostIds(ids);
        _argmax(_stream, _plan.Sampling(rows), logits.View(), ids.View(), classes, vocab);
    }

    private static void CheckSampling(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab)
    {
        OpChecks.Sampling(logits, ids, rows, classes, vocab);
        HostChecks.Product(rows, classes);
    }
}
