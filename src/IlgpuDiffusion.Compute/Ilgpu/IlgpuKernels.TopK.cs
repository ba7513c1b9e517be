using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// The top-k filter of autoregressive sampling. Device code: TopKKernels (Kernels/TopKKernels.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int, int>? _keepTopK;

    /// <inheritdoc/>
    public void KeepTopK(Tensor<float> logits, int rows, int classes, int vocab, int k)
    {
        OpChecks.KeepTopK(logits, rows, classes, vocab, k);
        HostChecks.Product(rows, classes);
        if (k >= vocab || rows == 0) return;
        _keepTopK ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, int, int, int>>(TopKKernels.KeepTopK));
        _keepTopK(_stream, _plan.Rows(rows), logits.View(), classes, vocab, k);
    }
}
