using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// Categorical draws and argmax, one group per row, and drawn ids scattered into sequences. Device code: SamplingKernels
// (Kernels/SamplingKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, SamplingArguments>? _sample;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int, int>? _argmax;
    private Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int>? _scatterIds;

    /// <inheritdoc/>
    public void SampleCategorical(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters)
    {
        OpChecks.Sampling(logits, ids, rows, classes, vocab, parameters);
        HostChecks.Product(rows, classes);
        if (rows == 0) return;
        _sample ??= _accelerator.LoadCached(
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
        _argmax ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<int>, int, int>>(SamplingKernels.Argmax));
        ForgetHostIds(ids);
        _argmax(_stream, _plan.Sampling(rows), logits.View(), ids.View(), classes, vocab);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The rows are checked on the host (from their mirror, or read back), the ids on the device: target's mirror learns
    /// that the rows now hold ids below max(limit, replacement + 1), so the next op reading them as ids need not wait.
    /// </remarks>
    public void ScatterIds(Tensor<int> ids, Tensor<int> rows, Tensor<int> target, int count, int targetCount, int limit, int replacement)
    {
        OpChecks.ScatterIds(ids, rows, target, count, targetCount, limit, replacement);
        var hostRows = ReadIds(rows, count, targetCount, -1, nameof(rows), $"row (must be in [0, {targetCount}))");
        CheckDistinct(hostRows, nameof(rows), "a scatter");
        if (count == 0) return;
        _scatterIds ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int>>(SamplingKernels.ScatterIds));
        _scatterIds(_stream, count, ids.View(), rows.View(), target.View(), limit, replacement);
        (target.Buffer as IlgpuBuffer<int>)?.Ids?.Bound(target.Offset, hostRows, Math.Max(limit, replacement + 1));
    }

    private static void CheckSampling(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab)
    {
        OpChecks.Sampling(logits, ids, rows, classes, vocab);
        HostChecks.Product(rows, classes);
    }
}
