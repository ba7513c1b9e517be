using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// NCCL's opaque 128-byte communicator id (<c>ncclUniqueId</c>, <c>NCCL_UNIQUE_ID_BYTES</c> in nccl.h): made by rank 0,
/// broadcast to the other ranks, passed by value to <c>ncclCommInitRank</c>.
/// </summary>
[InlineArray(Length)]
internal struct NcclUniqueId
{
    /// <summary>Bytes of the id.</summary>
    public const int Length = 128;

    private byte _first;
}

/// <summary>
/// The NCCL calls data parallelism needs, bound at run time to <c>libnccl.so.2</c> (NVIDIA's collective library, present
/// on GPU machines with PyTorch or the CUDA toolkit's NCCL package), so machines without it load nothing. Signatures and
/// enum values follow nccl.h: results are <c>ncclResult_t</c> (0 = success), <c>ncclFloat32</c> = 7, <c>ncclSum</c> = 0.
/// </summary>
internal sealed unsafe class NcclLibrary
{
    /// <summary>The shared library's name.</summary>
    public const string FileName = "libnccl.so.2";

    /// <summary>The environment variable that, set to <c>off</c>, keeps data-parallel jobs off NCCL.</summary>
    public const string DisableVariable = "ILGPU_DIFFUSION_NCCL";

    /// <summary><c>ncclFloat32</c>.</summary>
    public const int Float32 = 7;

    /// <summary><c>ncclSum</c>.</summary>
    public const int Sum = 0;

    private static readonly Lazy<(NcclLibrary? Library, string Reason)> Loaded = new(Load);

    private NcclLibrary(nint library)
    {
        GetVersion = (delegate* unmanaged<int*, int>)Export(library, "ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)Export(library, "ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, int>)Export(library, "ncclCommInitRank");
        CommDestroy = (delegate* unmanaged<nint, int>)Export(library, "ncclCommDestroy");
        AllReduce = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Export(library, "ncclAllReduce");
        GetErrorString = (delegate* unmanaged<int, byte*>)Export(library, "ncclGetErrorString");
    }

    /// <summary><c>ncclGetVersion(int*)</c>.</summary>
    public delegate* unmanaged<int*, int> GetVersion { get; }

    /// <summary><c>ncclGetUniqueId(ncclUniqueId*)</c>.</summary>
    public delegate* unmanaged<NcclUniqueId*, int> GetUniqueId { get; }

    /// <summary><c>ncclCommInitRank(ncclComm_t*, int nranks, ncclUniqueId id, int rank)</c>: the id by value.</summary>
    public delegate* unmanaged<nint*, int, NcclUniqueId, int, int> CommInitRank { get; }

    /// <summary><c>ncclCommDestroy(ncclComm_t)</c>.</summary>
    public delegate* unmanaged<nint, int> CommDestroy { get; }

    /// <summary><c>ncclAllReduce(send, recv, size_t count, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t)</c>.</summary>
    public delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> AllReduce { get; }

    /// <summary><c>ncclGetErrorString(ncclResult_t)</c>.</summary>
    public delegate* unmanaged<int, byte*> GetErrorString { get; }

    /// <summary>The library, loaded once per process, or null with why not.</summary>
    public static NcclLibrary? TryLoad(out string reason)
    {
        (NcclLibrary? library, reason) = Loaded.Value;
        return library;
    }

    /// <summary>The version as NCCL spells it, e.g. "NCCL 2.21.5" (codes are major·10000 + minor·100 + patch since 2.9).</summary>
    public string Version
    {
        get
        {
            int code;
            Check(GetVersion(&code), "ncclGetVersion");
            return code >= 20900 ? $"NCCL {code / 10000}.{code / 100 % 100}.{code % 100}"
                : $"NCCL {code / 1000}.{code / 100 % 10}.{code % 100}";
        }
    }

    /// <summary>Throws with NCCL's own text unless <paramref name="result"/> is <c>ncclSuccess</c>.</summary>
    /// <exception cref="InvalidOperationException">The call failed.</exception>
    public void Check(int result, string call)
    {
        if (result == 0) return;
        string text = Marshal.PtrToStringUTF8((nint)GetErrorString(result)) ?? $"error {result}";
        throw new InvalidOperationException($"{call} failed: {text} (NCCL result {result}). NCCL_DEBUG=INFO in the environment " +
            $"makes NCCL say why; {DisableVariable}=off sums the gradients on the host through MPI instead.");
    }

    private static (NcclLibrary?, string) Load()
    {
        if (string.Equals(Environment.GetEnvironmentVariable(DisableVariable), "off", StringComparison.OrdinalIgnoreCase))
            return (null, $"{DisableVariable}=off: gradients are summed on the host through MPI.");
        if (!NativeLibrary.TryLoad(FileName, out nint handle))
            return (null, $"{FileName} (NVIDIA's NCCL) was not found; gradients are summed on the host through MPI instead.");
        try
        {
            return (new NcclLibrary(handle), "");
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, $"{FileName} lacks {e.Message}: NCCL 2.9 or newer is needed; gradients are summed on the host instead.");
        }
    }

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out nint address) ? address : throw new EntryPointNotFoundException(name);
}
