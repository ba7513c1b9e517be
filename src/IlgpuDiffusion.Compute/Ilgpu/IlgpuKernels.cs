using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The ILGPU backend of <see cref="IKernels"/>: the same kernels run on CUDA, OpenCL and
/// the ILGPU CPU emulator. One file per op family, <c>IlgpuKernels.&lt;Family&gt;.cs</c>, with the
/// suffix of the <c>IKernels.&lt;Family&gt;.cs</c> it implements; its first line names the device code
/// it launches: static classes of <c>[IlgpuKernel]</c> methods in <c>Kernels/</c> (e.g.
/// <c>LossKernels</c> for Losses and CrossEntropy). Several families share the column reductions of
/// <c>IlgpuKernels.Columns.cs</c>, the host-side id checks of <c>IlgpuKernels.HostIds.cs</c> and the
/// class-row check in this file.
/// Each kernel is loaded once per accelerator, on first use, and kept in a field; group and
/// tile sizes come from a <see cref="LaunchPlan"/> chosen per accelerator. Shapes are checked
/// on the host before every launch, and every launch queues on the device's stream (<see cref="IlgpuDevice.Stream"/>),
/// never on the accelerator's default stream.
/// Every op is deterministic run to run: no float atomics; reductions use shared-memory
/// trees, warp butterflies and chunk orders fixed by the shapes.
/// Not thread-safe on its own (scratch buffers and staging arrays are fields): its device runs one call at a time.
/// </summary>
internal sealed partial class IlgpuKernels : IKernels, IDisposable
{
    private readonly Accelerator _accelerator;

    /// <summary>The stream every launch queues on (the device's, not the accelerator's default stream).</summary>
    private readonly AcceleratorStream _stream;

    private readonly LaunchPlan _plan;

    /// <summary>The tensor-core GEMMs when the precision asks for them (TF32 or BF16), else null (fp32 SIMT kernels).</summary>
    private readonly TensorCoreGemm? _tensorCores;

    /// <summary>The device's staging of host-to-device copies, for the plans ops upload (under the device's lock).</summary>
    private readonly PinnedUploads _uploads;

    /// <summary>The precision products run in.</summary>
    private readonly MatMulPrecision _precision;

    /// <summary>Whether the TF32 attention backward may take its key pass in blocks of 64 keys (see <see cref="KernelChoices"/>).</summary>
    private readonly bool _tf32KeyBlocksAllowed;

    /// <summary>Whether the BF16 attention forward may copy its key tiles through cp.async (see <see cref="KernelChoices"/>).</summary>
    private readonly bool _pipelinedAttentionAllowed;

    /// <summary>Whether the TF32 GEMMs run in stages of 32 of k (see <see cref="TensorCoreGemm"/>).</summary>
    public bool DeepTf32 => _tensorCores?.DeepTf32 ?? false;

    /// <summary>
    /// Whether the tensor-core GEMMs load with their launch bounds (see <see cref="TensorCoreGemm"/>), and so the BF16
    /// attention forward (<see cref="Kernels.TensorCoreAttentionBf16Kernels.Forward"/>).
    /// </summary>
    public bool GemmLaunchBounds => _tensorCores?.LaunchBounds ?? false;

    /// <summary>
    /// The fewest rows and columns of a GEMM that reads copies of its operands (see <see cref="TensorCoreGemm.CopiesFrom"/>).
    /// </summary>
    public int CopiesFrom => _tensorCores?.CopiesFrom ?? int.MaxValue;

    /// <summary>Whether GEMMs on copies stage their tiles through cp.async (see <see cref="TensorCoreGemm"/>).</summary>
    public bool PipelinedCopies => _tensorCores?.PipelinedCopies ?? false;

    /// <summary>Whether GEMMs on copies run on Hopper's warpgroup products (see <see cref="TensorCoreGemm"/>).</summary>
    public bool WarpgroupProducts => _tensorCores?.WarpgroupProducts ?? false;

    /// <summary>The copies of GEMM operands queued so far (see <see cref="TensorCoreGemm.CopyPasses"/>).</summary>
    public long CopyPasses => _tensorCores?.CopyPasses ?? 0;

    /// <summary>
    /// Binds the kernels to the accelerator of <paramref name="stream"/>, where they queue, multiplying in
    /// <paramref name="precision"/>.
    /// </summary>
    /// <param name="multiprocessors">The processors the tensor-core GEMMs' split-K fills (the accelerator's when null).</param>
    /// <param name="uploads">The device's upload staging.</param>
    /// <param name="choices">The alternative kernels to run (the accelerator's defaults when absent).</param>
    /// <exception cref="ArgumentException">TF32 or BF16 on an accelerator without tensor cores.</exception>
    public IlgpuKernels(AcceleratorStream stream, MatMulPrecision precision, int? multiprocessors, PinnedUploads uploads,
        KernelChoices choices = default)
    {
        var accelerator = stream.Accelerator;
        _accelerator = accelerator;
        _stream = stream;
        _uploads = uploads;
        _precision = precision;
        _plan = new LaunchPlan(accelerator, choices.WarpRowSums);
        _tf32KeyBlocksAllowed = choices.Tf32KeyBlocks ?? true;
        _pipelinedAttentionAllowed = choices.PipelinedAttention ?? false;
        _tensorCores = precision == MatMulPrecision.Fp32
            ? null
            : new TensorCoreGemm(stream, precision, multiprocessors, choices.DeepTf32, choices.GemmLaunchBounds,
                choices.CopiesFrom, choices.PipelinedCopies, choices.WarpgroupProducts);
    }

    /// <summary>
    /// Frees a scratch <paramref name="buffer"/> once the launches queued before it are done: launches are asynchronous
    /// (ILGPU's CPU accelerator included), so a kernel may still be using the buffer when the host lets go of it.
    /// </summary>
    internal static void Release(Accelerator accelerator, MemoryBuffer? buffer)
    {
        if (buffer is null) return;
        accelerator.Synchronize();
        buffer.Dispose();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _accelerator.Synchronize();
        _tensorCores?.Dispose();
        _columnScratch?.Dispose();
        _rowDotScratch?.Dispose();
        _scoreScratch?.Dispose();
        _qkNormProducts?.Dispose();
        _partials?.Dispose();
        _deviceSegments?.Dispose();
    }

    /// <summary>
    /// The first <paramref name="length"/> floats of a scratch buffer that grows to the largest length asked, so that
    /// steady-state calls allocate nothing.
    /// </summary>
    private ArrayView<float> Scratch(ref MemoryBuffer1D<float, Stride1D.Dense>? buffer, long length)
    {
        if (buffer is null || buffer.Length < length)
        {
            Release(_accelerator, buffer);
            buffer = _accelerator.Allocate1D<float>(length);
        }
        return buffer.View.SubView(0, length).AsContiguous();
    }

}
