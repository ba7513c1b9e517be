using ILGPU.Runtime;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Kernels;

/// <summary>
/// The ILGPU backend of <see cref="IKernels"/>: the same kernels run on CUDA, OpenCL and
/// the ILGPU CPU emulator. Kernels are loaded once per accelerator and kept in fields.
/// </summary>
public sealed partial class IlgpuKernels : IKernels
{
    private readonly Accelerator _accelerator;

    /// <summary>Binds the kernels to <paramref name="accelerator"/>.</summary>
    public IlgpuKernels(Accelerator accelerator) => _accelerator = accelerator;
}
