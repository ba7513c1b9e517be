using System.Globalization;
using System.Runtime.InteropServices;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The NCCL calls that sum gradients over GPUs, bound at run time to <c>libnccl.so.2</c> (NCCL 2.x, as nccl.h declares
/// them): no type of this assembly links NCCL, so a machine without it loads and runs everything else. The library is
/// opened once per process; <see cref="TryLoad"/> says why not where it cannot be.
/// </summary>
internal sealed unsafe class NcclLibrary
{
    /// <summary>The file name of NCCL 2's shared library.</summary>
    public const string FileName = "libnccl.so.2";

    /// <summary>The environment variable that, set to <c>off</c>, keeps data-parallel jobs off NCCL (sums on the host).</summary>
    public const string DisableVariable = "ILGPU_DIFFUSION_NCCL";

    private const int Success = 0; // ncclSuccess
    private const int Float32 = 7; // ncclFloat32 (ncclDataType_t)
    private const int Sum = 0; // ncclSum (ncclRedOp_t)

    private static readonly Lazy<(NcclLibrary? Library, string Reason)> Loaded = new(Load);

    private readonly delegate* unmanaged<int*, int> _getVersion;
    private readonly delegate* unmanaged<NcclUniqueId*, int> _getUniqueId;
    private readonly delegate* unmanaged<nint*, int, NcclUniqueId, int, int> _commInitRank;
    private readonly delegate* unmanaged<void*, void*, nuint, int, int, nint, nint, int> _allReduce;
    private readonly delegate* unmanaged<nint, int> _commDestroy;
    private readonly delegate* unmanaged<nint, int*, int> _commGetAsyncError;
    private readonly delegate* unmanaged<int, byte*> _getErrorString;
    private readonly delegate* unmanaged<nint, byte*> _getLastError;

    private NcclLibrary(nint handle)
    {
        _getVersion = (delegate* unmanaged<int*, int>)Export(handle, "ncclGetVersion");
        _getUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)Export(handle, "ncclGetUniqueId");
        _commInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, int>)Export(handle, "ncclCommInitRank");
        _allReduce = (delegate* unmanaged<void*, void*, nuint, int, int, nint, nint, int>)Export(handle, "ncclAllReduce");
        _commDestroy = (delegate* unmanaged<nint, int>)Export(handle, "ncclCommDestroy");
        _commGetAsyncError = (delegate* unmanaged<nint, int*, int>)Export(handle, "ncclCommGetAsyncError");
        _getErrorString = (delegate* unmanaged<int, byte*>)Export(handle, "ncclGetErrorString");
        // ncclGetLastError (NCCL 2.13+) adds the detail behind an error code where the library has it.
        _getLastError = NativeLibrary.TryGetExport(handle, "ncclGetLastError", out nint lastError)
            ? (delegate* unmanaged<nint, byte*>)lastError : null;
        int code;
        int result = _getVersion(&code);
        Version = result == Success ? FormatVersion(code)
            : throw new InvalidOperationException($"{FileName}'s ncclGetVersion failed with NCCL error {result}");
    }

    /// <summary>The library's version, e.g. "NCCL 2.21.5".</summary>
    public string Version { get; }

    /// <summary>
    /// The process's NCCL library, or null with <paramref name="reason"/> saying why there is none (not installed, not
    /// on the loader's path, or too old to export a call this class makes).
    /// </summary>
    public static NcclLibrary? TryLoad(out string reason)
    {
        (NcclLibrary? library, reason) = Loaded.Value;
        return library;
    }

    /// <summary>
    /// "NCCL major.minor.patch" from <c>ncclGetVersion</c>'s code: major·10000 + minor·100 + patch from NCCL 2.9 on,
    /// major·1000 + minor·100 + patch before (nccl.h's <c>NCCL_VERSION</c>).
    /// </summary>
    public static string FormatVersion(int code)
    {
        int major = code >= 10000 ? code / 10000 : code / 1000;
        int minor = code >= 10000 ? code / 100 % 100 : code / 100 % 10;
        return string.Create(CultureInfo.InvariantCulture, $"NCCL {major}.{minor}.{code % 100}");
    }

    /// <summary>A new unique id (rank 0 draws it and sends it to the others).</summary>
    public NcclUniqueId GetUniqueId()
    {
        NcclUniqueId id;
        Check(_getUniqueId(&id), "ncclGetUniqueId");
        return id;
    }

    /// <summary>
    /// Joins rank <paramref name="rank"/> of <paramref name="size"/> to the communicator of <paramref name="id"/> on the CUDA
    /// device current to the calling thread; waits for every rank.
    /// </summary>
    public nint InitRank(int size, NcclUniqueId id, int rank)
    {
        nint comm;
        Check(_commInitRank(&comm, size, id, rank), "ncclCommInitRank");
        return comm;
    }

    /// <summary>
    /// Queues the in-place sum over the ranks of <paramref name="count"/> floats at device address <paramref name="buffer"/>.
    /// </summary>
    public void AllReduceSum(nint buffer, long count, nint comm, nint stream) =>
        Check(_allReduce((void*)buffer, (void*)buffer, (nuint)count, Float32, Sum, comm, stream), "ncclAllReduce", comm);

    /// <summary>Throws if the communicator met an error in work that has run (a peer that failed, a network error).</summary>
    public void ThrowIfAsyncError(nint comm)
    {
        int error;
        Check(_commGetAsyncError(comm, &error), "ncclCommGetAsyncError", comm);
        Check(error, "ncclAllReduce (reported by ncclCommGetAsyncError)", comm);
    }

    /// <summary>Frees the communicator once its queued work has finished.</summary>
    public void Destroy(nint comm) => Check(_commDestroy(comm), "ncclCommDestroy");

    private void Check(int result, string call, nint comm = 0)
    {
        if (result == Success) return;
        string text = Marshal.PtrToStringUTF8((nint)_getErrorString(result)) ?? "unknown error";
        string detail = comm != 0 && _getLastError != null ? Marshal.PtrToStringUTF8((nint)_getLastError(comm)) ?? "" : "";
        throw new InvalidOperationException($"{call} failed with NCCL error {result} ({text})" +
            (detail.Length > 0 ? $": {detail}" : "") + $". {Version} on this rank; run again with NCCL_DEBUG=WARN (or INFO) " +
            "to see NCCL's own account, and check that every rank reached the same call.");
    }

    private static (NcclLibrary?, string) Load()
    {
        if (string.Equals(Environment.GetEnvironmentVariable(DisableVariable), "off", StringComparison.OrdinalIgnoreCase))
            return (null, $"{DisableVariable}=off");
        if (!NativeLibrary.TryLoad(FileName, out nint handle))
            return (null, $"{FileName} could not be opened: NCCL is not installed, or its folder is not on LD_LIBRARY_PATH");
        try
        {
            return (new NcclLibrary(handle), "");
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or InvalidOperationException)
        {
            return (null, ex.Message);
        }
    }

    private static nint Export(nint handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out nint address) ? address
        : throw new EntryPointNotFoundException($"{FileName} lacks {name}: it is not NCCL 2.4 or newer");
}
