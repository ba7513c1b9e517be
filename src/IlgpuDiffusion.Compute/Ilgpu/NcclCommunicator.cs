using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// One rank's NCCL communicator on its CUDA device: sums a float tensor over the ranks in place, on the GPU, in the order of
/// the device's kernels (ILGPU's default stream), without a trip through host memory. NCCL's ring and tree all-reduces give
/// every rank the same bits; reruns repeat them only while NCCL picks the same algorithm and protocol (pin them with
/// <c>NCCL_ALGO</c>/<c>NCCL_PROTO</c>, and <c>NCCL_NVLS_ENABLE=0</c> on NVSwitch machines), unlike the host path's fixed rank
/// order (docs/data-parallel.md).
/// </summary>
internal sealed unsafe class NcclCommunicator : IDisposable
{
    private readonly NcclLibrary _nccl;
    private readonly IlgpuDevice _device;
    private nint _comm;

    private NcclCommunicator(NcclLibrary nccl, IlgpuDevice device, nint comm)
    {
        _nccl = nccl;
        _device = device;
        _comm = comm;
        Version = nccl.Version;
    }

    /// <summary>NCCL's version, e.g. "NCCL 2.21.5".</summary>
    public string Version { get; }

    /// <summary>
    /// Whether this process can sum <paramref name="device"/>'s tensors with NCCL: a CUDA device and <c>libnccl.so.2</c> present
    /// (and not turned off); else why not.
    /// </summary>
    public static bool CanRunOn(Device device, out string reason)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device is not IlgpuDevice { Backend: Backend.Cuda })
        {
            reason = $"{device.Description} is not a CUDA device.";
            return false;
        }
        return NcclLibrary.TryLoad(out reason) is not null;
    }

    /// <summary>
    /// Joins the communicator of <paramref name="size"/> ranks as <paramref name="rank"/> on <paramref name="device"/>, which
    /// <see cref="CanRunOn"/> accepted on every rank. Every rank must call it together: rank 0 makes the id, and
    /// <paramref name="broadcastFromRoot"/> must give every rank rank 0's bytes (over MPI).
    /// </summary>
    /// <exception cref="ArgumentException">NCCL cannot run on the device (see <see cref="CanRunOn"/>).</exception>
    /// <exception cref="InvalidOperationException">NCCL failed to set the communicator up.</exception>
    public static NcclCommunicator Create(Device device, int rank, int size, Action<Span<byte>> broadcastFromRoot)
    {
        ArgumentNullException.ThrowIfNull(broadcastFromRoot);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, size);
        if (!CanRunOn(device, out string reason)) throw new ArgumentException(reason, nameof(device));
        var cuda = (IlgpuDevice)device;
        NcclLibrary nccl = NcclLibrary.TryLoad(out _)!;
        NcclUniqueId id = default;
        if (rank == 0) nccl.Check(nccl.GetUniqueId(&id), "ncclGetUniqueId");
        broadcastFromRoot(id);
        nint comm;
        using (cuda.EnterLock())
            nccl.Check(nccl.CommInitRank(&comm, size, id, rank), "ncclCommInitRank");
        return new NcclCommunicator(nccl, cuda, comm);
    }

    /// <summary>
    /// Replaces <paramref name="values"/> on every rank by its sum over the ranks, after the kernels queued before it; returns
    /// once the sum is done.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not on this communicator's device.</exception>
    /// <exception cref="InvalidOperationException">NCCL failed (a rank died, a network error).</exception>
    public void AllReduceSum(Tensor<float> values)
    {
        ObjectDisposedException.ThrowIf(_comm == 0, this);
        if (values.Buffer is not IlgpuBuffer<float> buffer || !ReferenceEquals(buffer.Device, _device))
            throw new ArgumentException("The tensor to sum lives on another device than the NCCL communicator's.", nameof(values));
        using var scope = _device.EnterLock();
        nint data = buffer.Memory.NativePtr + (nint)(values.Offset * sizeof(float));
        nint stream = ((CudaStream)_device.Accelerator.DefaultStream).StreamPtr;
        _nccl.Check(_nccl.AllReduce(data, data, (nuint)values.Length, NcclLibrary.Float32, NcclLibrary.Sum, _comm, stream),
            "ncclAllReduce");
        _device.Accelerator.DefaultStream.Synchronize();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_comm == 0) return;
        _nccl.CommDestroy(_comm);
        _comm = 0;
    }
}
