using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Compute;
using Device = IlgpuDiffusion.Compute.Device;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Sums float tensors over the GPUs of a data-parallel job with NCCL's <c>ncclAllReduce</c>, one rank per process and CUDA
/// device: the GPU path of the gradient sum, where the host path adds through MPI. NCCL runs in the device's primary
/// context while ILGPU's memory lives in the accelerator's own context, so each sum copies the tensor into a buffer of the
/// primary context (<see cref="CudaPrimaryContext"/>), sums it there and copies it back; each call returns with the sum in
/// the tensor and the GPU idle.
/// </summary>
/// <remarks>
/// <para>
/// Every rank receives the same sum, bit for bit: NCCL reduces each element once and sends that result to every rank.
/// NCCL documents no run-to-run guarantee. Its reduction order follows the algorithm and protocol it picks from the
/// message size, the number of ranks and the topology, so a rerun with the same ranks on the same GPUs and the same NCCL
/// adds in the same order; NVLS (NVLink SHARP, on NVSwitch systems) reduces in switch hardware and, as NCCL's maintainers
/// state, can differ from call to call. Runs that must repeat bit for bit pin the algorithm: <c>NCCL_ALGO=Ring</c> (or
/// <c>Tree</c>) and <c>NCCL_NVLS_ENABLE=0</c>. The host path's rank-order sum is deterministic by construction.
/// </para>
/// <para>
/// Calls hold the device's lock, so they run after the kernels other calls queued, and every rank must make the same calls
/// in the same order. Dispose the communicator before its device.
/// </para>
/// </remarks>
internal sealed class NcclCommunicator : IDisposable
{
    private readonly IlgpuDevice _device;
    private readonly NcclLibrary _nccl;
    private readonly CudaDriver _driver;
    private readonly CudaPrimaryContext _primary;
    private nint _comm;

    private NcclCommunicator(IlgpuDevice device, NcclLibrary nccl, CudaDriver driver, CudaPrimaryContext primary, nint comm)
    {
        _device = device;
        _nccl = nccl;
        _driver = driver;
        _primary = primary;
        _comm = comm;
    }

    /// <summary>The NCCL library's version, e.g. "NCCL 2.21.5".</summary>
    public string Version => _nccl.Version;

    /// <summary>
    /// Whether <see cref="TryCreate"/> can make a communicator on <paramref name="device"/>: a CUDA device, with NCCL and the
    /// CUDA driver loadable. Ranks must agree before any calls <see cref="TryCreate"/>: a rank that returns null while the
    /// others initialize leaves them waiting.
    /// </summary>
    public static bool IsSupported(Device device, out string reason) => Probe(device, out reason) is not null;

    /// <summary>
    /// Joins rank <paramref name="rank"/> of <paramref name="size"/> to a new NCCL communicator on <paramref name="device"/>,
    /// or returns null with <paramref name="reason"/> when NCCL cannot run there (see <see cref="IsSupported"/>). Rank 0
    /// draws NCCL's unique id; every rank then calls <paramref name="broadcastFromRoot"/> with a 128-byte buffer, which must
    /// come back holding rank 0's bytes (an MPI broadcast from rank 0; a job of one rank may pass a no-op). Waits until every
    /// rank has joined.
    /// </summary>
    /// <exception cref="InvalidOperationException">NCCL or the CUDA driver failed; the message carries their account.</exception>
    public static NcclCommunicator? TryCreate(Device device, int rank, int size, Action<Span<byte>> broadcastFromRoot,
        out string reason)
    {
        ArgumentNullException.ThrowIfNull(broadcastFromRoot);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, size);
        if (Probe(device, out reason) is not ({ } ilgpu, { } nccl, { } driver)) return null;
        var primary = new CudaPrimaryContext(driver, ((CudaAccelerator)ilgpu.Accelerator).DeviceId);
        try
        {
            var id = default(NcclUniqueId);
            if (rank == 0)
            {
                using var scope = ilgpu.EnterLock();
                using var current = primary.MakeCurrent();
                id = nccl.GetUniqueId();
            }
            broadcastFromRoot(id);
            nint comm;
            using (ilgpu.EnterLock())
            using (primary.MakeCurrent())
                comm = nccl.InitRank(size, id, rank);
            return new NcclCommunicator(ilgpu, nccl, driver, primary, comm);
        }
        catch
        {
            primary.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Replaces <paramref name="values"/>, a tensor of this communicator's device, with its sum over all ranks, after the
    /// kernels queued on the device so far; returns once the sum is in the tensor.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="values"/> lives on another device.</exception>
    /// <exception cref="InvalidOperationException">NCCL or the CUDA driver failed (a rank gone, a network error).</exception>
    public void AllReduceSum(Tensor<float> values)
    {
        ObjectDisposedException.ThrowIf(_comm == 0, this);
        if (values.Device != _device)
            throw new ArgumentException($"{values} lives on {values.Device.Description}, not on the device NCCL sums on " +
                $"({_device.Description}).", nameof(values));
        if (values.Length == 0) return;
        long bytes = values.Length * sizeof(float);
        using var scope = _device.EnterLock();
        nint tensor = values.View().LoadEffectiveAddressAsPtr(), own = _device.Accelerator.NativePtr;
        _device.Accelerator.Synchronize();
        using var current = _primary.MakeCurrent();
        nint buffer = _primary.Buffer(bytes);
        _driver.CopyBetweenContexts(buffer, _primary.Handle, tensor, own, bytes);
        _nccl.AllReduceSum(buffer, values.Length, _comm, stream: 0);
        _driver.Synchronize();
        _nccl.ThrowIfAsyncError(_comm);
        _driver.CopyBetweenContexts(tensor, own, buffer, _primary.Handle, bytes);
        _driver.Synchronize();
    }

    /// <summary>Frees the communicator (after its queued work) and the primary context's buffer.</summary>
    public void Dispose()
    {
        if (_comm == 0) return;
        try
        {
            using var scope = _device.EnterLock();
            using var current = _primary.MakeCurrent();
            _nccl.Destroy(_comm);
        }
        finally
        {
            _comm = 0;
            _primary.Dispose();
        }
    }

    private static (IlgpuDevice Device, NcclLibrary Nccl, CudaDriver Driver)? Probe(Device device, out string reason)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device is not IlgpuDevice { Backend: Backend.Cuda } ilgpu)
        {
            reason = $"NCCL sums on CUDA GPUs, and this rank's device is {device.Description}";
            return null;
        }
        if (NcclLibrary.TryLoad(out reason) is not { } nccl || CudaDriver.TryLoad(out reason) is not { } driver) return null;
        return (ilgpu, nccl, driver);
    }
}
