using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;
using Device = IlgpuDiffusion.Compute.Device;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>A device backed by an ILGPU accelerator (CUDA, OpenCL, or the CPU emulator for tests).</summary>
internal sealed class IlgpuDevice : Device
{
    /// <summary>A device on <paramref name="accelerator"/> (owned from now on) multiplying in <paramref name="precision"/>.</summary>
    /// <param name="multiprocessors">The processors the tensor-core GEMMs' split-K fills (the accelerator's when null).</param>
    /// <param name="index">The accelerator's number among the backend's (<see cref="Open"/>'s).</param>
    /// <param name="choices">The alternative kernels it runs (the accelerator's defaults when absent).</param>
    internal IlgpuDevice(Backend backend, Accelerator accelerator, MatMulPrecision precision, int? multiprocessors = null,
        int index = 0, KernelChoices choices = default)
    {
        Backend = backend;
        Index = index;
        Accelerator = accelerator;
        Precision = precision;
        Stream = CreateWorkStream(accelerator);
        Uploads = new PinnedUploads(Stream, WaitForQueuedWork);
        _backendKernels = new IlgpuKernels(Stream, precision, multiprocessors, Uploads, choices);
        Kernels = new DeviceKernels(this, _backendKernels);
    }

    private readonly IlgpuKernels _backendKernels;

    /// <summary>
    /// The stream all of the device's work queues on, in order: kernels, copies and buffer clears. On CUDA it is a stream
    /// of its own, not the legacy default stream, which stream capture (CUDA graphs) refuses; it is created blocking,
    /// so that anything ILGPU queues on the default stream by itself still runs in order with it.
    /// </summary>
    internal AcceleratorStream Stream { get; }

    /// <summary>The staging of host-to-device copies that do not wait (used under the device's lock).</summary>
    internal PinnedUploads Uploads { get; }

    /// <summary>
    /// Opens accelerator number <paramref name="index"/> of <paramref name="backend"/>, multiplying in
    /// <paramref name="precision"/> (the best the accelerator has when null: TF32 with tensor cores, else fp32).
    /// </summary>
    /// <param name="choices">The alternative kernels it runs (the accelerator's defaults when absent).</param>
    /// <exception cref="ArgumentException">
    /// The backend has no accelerator <paramref name="index"/>, or the accelerator has no tensor cores for the precision asked.
    /// </exception>
    public static IlgpuDevice Open(Backend backend, MatMulPrecision? precision, int index, KernelChoices choices = default)
    {
        var accelerator = IlgpuRuntime.CreateAccelerator(backend, index);
        bool tensorCores = TensorCoreGemm.Supports(accelerator);
        MatMulPrecision chosen = precision ?? (tensorCores ? MatMulPrecision.Tf32 : MatMulPrecision.Fp32);
        if (chosen != MatMulPrecision.Fp32 && !tensorCores)
        {
            string name = accelerator.Name;
            accelerator.Dispose();
            throw new ArgumentException($"{name} ({backend.Name()}) has no tensor cores this library drives: {chosen.Name()} needs a " +
                "CUDA GPU of compute capability 8.0 or newer. Use --precision fp32 (or auto) on this device.", nameof(precision));
        }
        return new IlgpuDevice(backend, accelerator, chosen, multiprocessors: null, index, choices);
    }

    /// <summary>The accelerator's number among the backend's.</summary>
    internal int Index { get; }

    /// <summary>Whether the TF32 GEMMs run in stages of 32 of k (see <see cref="TensorCoreGemm"/>).</summary>
    internal bool DeepTf32 => _backendKernels.DeepTf32;

    /// <summary>Whether the tensor-core GEMMs load with their launch bounds (see <see cref="TensorCoreGemm"/>).</summary>
    internal bool GemmLaunchBounds => _backendKernels.GemmLaunchBounds;

    /// <summary>
    /// The fewest rows and columns of a GEMM that reads copies of its operands (see <see cref="TensorCoreGemm.CopiesFrom"/>).
    /// </summary>
    internal int CopiesFrom
    {
        get
        {
            using var scope = EnterLock();
            return _backendKernels.CopiesFrom;
        }
    }

    /// <summary>
    /// Whether GEMMs on copies stage their tiles through cp.async (see <see cref="TensorCoreGemm"/>); a first product
    /// whose shared memory the GPU refused turns it off.
    /// </summary>
    internal bool PipelinedCopies
    {
        get
        {
            using var scope = EnterLock();
            return _backendKernels.PipelinedCopies;
        }
    }

    /// <summary>
    /// Whether GEMMs on copies run on Hopper's warpgroup products (see <see cref="TensorCoreGemm"/>); a first product
    /// the GPU refused turns it off.
    /// </summary>
    internal bool WarpgroupProducts
    {
        get
        {
            using var scope = EnterLock();
            return _backendKernels.WarpgroupProducts;
        }
    }

    /// <summary>The copies of GEMM operands queued so far, each a pass over its operand (see <see cref="TensorCoreGemm"/>).</summary>
    internal long CopyPasses
    {
        get
        {
            using var scope = EnterLock();
            return _backendKernels.CopyPasses;
        }
    }

    /// <summary>
    /// Whether the attention backward of heads of <paramref name="headDim"/> columns runs on the flash kernels for wide heads
    /// (under tf32, where the GPU grants their shared memory) rather than over materialized scores.
    /// </summary>
    internal bool WideFlashBackward(int headDim)
    {
        using var scope = EnterLock();
        return _backendKernels.WideFlashBackward(headDim);
    }

    /// <summary>
    /// Whether the TF32 attention backward of heads of 64 runs its key pass in blocks of 64 keys (where the GPU grants their
    /// shared memory) rather than 32.
    /// </summary>
    internal bool Tf32KeyBlocks()
    {
        using var scope = EnterLock();
        return _backendKernels.Tf32KeyBlocks();
    }

    /// <summary>
    /// Whether the BF16 attention of heads of 64 copies its tiles through cp.async (where the device's choices ask for it and
    /// the GPU grants the forward's shared memory).
    /// </summary>
    internal bool PipelinedAttention()
    {
        using var scope = EnterLock();
        return _backendKernels.PipelinedAttention();
    }

    private static AcceleratorStream CreateWorkStream(Accelerator accelerator) => accelerator is CudaAccelerator cuda
        ? cuda.CreateStream(StreamFlags.CU_STREAM_DEFAULT)
        : accelerator.CreateStream();

    /// <inheritdoc/>
    public override MatMulPrecision Precision { get; }

    /// <summary>The ILGPU accelerator.</summary>
    public Accelerator Accelerator { get; }

    /// <inheritdoc/>
    public override Backend Backend { get; }

    /// <inheritdoc/>
    /// <remarks>The CPU emulator reports no real memory size (long.MaxValue), so it says "host memory".</remarks>
    public override string Description =>
        $"{Accelerator.Name} ({Backend.Name()}, {Memory}, warp {Accelerator.WarpSize}, max group {Accelerator.MaxNumThreadsPerGroup}, " +
        $"GEMM {Precision.Name()}{(DeepTf32 ? " in k stages of 32" : "")}" +
        $"{(CopiesFrom < int.MaxValue ? $" on {Precision.Name().ToUpperInvariant()} copies from {CopiesFrom}" : "")}" +
        $"{(WarpgroupProducts ? " on warpgroup products" : PipelinedCopies ? " staged by cp.async" : "")}" +
        $"{(GemmLaunchBounds ? " with launch bounds" : "")})";

    private string Memory => Accelerator.AcceleratorType == AcceleratorType.CPU
        ? "host memory"
        : $"{Accelerator.MemorySize / (1024.0 * 1024 * 1024):F1} GiB";

    /// <inheritdoc/>
    public override IKernels Kernels { get; }

    /// <summary>The tensor-core GEMMs' block rows: padded to them, the head's GEMMs take whole tiles.</summary>
    internal override int HeadRowMultiple => TensorCoreGemmKernels.TileM;

    /// <inheritdoc/>
    private protected override bool HoldsLiveBuffers => true;

    /// <inheritdoc/>
    public override DeviceBuffer<T> Allocate<T>(long length) => new IlgpuBuffer<T>(this, length);

    /// <inheritdoc/>
    public override void Synchronize()
    {
        using var scope = EnterLock();
        WaitForQueuedWork();
    }

    /// <inheritdoc/>
    private protected override void SynchronizeForProfile()
    {
        using var scope = EnterLock();
        Accelerator.Synchronize();
        Uploads.Synchronized();
    }

    /// <inheritdoc/>
    /// <remarks>
    /// CUDA and ILGPU's CPU accelerator time ops by events on <see cref="Stream"/>; OpenCL synchronizes around each op.
    /// </remarks>
    private protected override OpClock CreateOpClock() => Accelerator switch
    {
        CudaAccelerator => new StreamEventClock(slots => new CudaStreamEvents((CudaStream)Stream, slots)),
        CPUAccelerator => new StreamEventClock(slots => new HostTimestampEvents(slots)),
        _ => base.CreateOpClock(),
    };

    /// <summary>
    /// Waits for the queued work, before a copy to the host or when the upload staging is all in use (counted in
    /// <see cref="Device.HostWaits"/>). Call under the device's lock.
    /// </summary>
    internal void WaitForQueuedWork()
    {
        CountHostWait();
        Accelerator.Synchronize();
        Uploads.Synchronized();
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        using var scope = EnterLock();
        DisposeLiveBuffers();
        _backendKernels.Dispose();
        Accelerator.Synchronize();
        Uploads.Dispose();
        Stream.Dispose();
        Accelerator.Dispose();
    }

    /// <inheritdoc/>
    private protected override void BindToCallingThread() => Accelerator.Bind();
}
