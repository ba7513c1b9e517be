using ILGPU.Runtime;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The ILGPU backend of <see cref="IKernels"/>: the same kernels run on CUDA, OpenCL and
/// the ILGPU CPU emulator. One file per op family (IlgpuKernels.*.cs) with the kernels
/// themselves in *Kernels.cs. Each kernel is loaded once per accelerator, on first use,
/// and kept in a field; group and tile sizes come from a <see cref="LaunchPlan"/> chosen
/// per accelerator. Shapes are checked on the host before every launch.
/// Every op is deterministic run to run: no float atomics; reductions use shared-memory
/// trees and chunk orders fixed by the shapes.
/// Not thread-safe: one caller at a time, like a stream.
/// </summary>
public sealed partial class IlgpuKernels : IKernels
{
    private readonly Accelerator _accelerator;
    private readonly LaunchPlan _plan;

    /// <summary>Binds the kernels to <paramref name="accelerator"/>.</summary>
    public IlgpuKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _plan = new LaunchPlan(accelerator);
    }
}
