using System.Runtime.InteropServices;
using System.Text;

namespace IlgpuDiffusion.Distributed;

/// <summary>
/// The few MPI calls data parallelism needs, bound at run time to Open MPI's <c>libmpi</c> (4.x/5.x, e.g. Debian's
/// <c>openmpi-bin</c>): process setup and teardown, rank and size of <c>MPI_COMM_WORLD</c>, and the collectives
/// all-to-all, all-gather and broadcast on bytes, floats and doubles. Open MPI's handles (<c>MPI_COMM_WORLD</c>,
/// <c>MPI_FLOAT</c>, …) are the addresses of exported objects (<c>ompi_mpi_comm_world</c>, …), read from the library's
/// exports. The library is opened with <c>RTLD_GLOBAL</c> because its plugins resolve its symbols globally. Every
/// call goes through one lock (MPI is initialized for serialized calls); a failed call throws, although Open MPI's
/// default error handler aborts the job first.
/// </summary>
internal sealed unsafe partial class OpenMpi
{
    private const int ThreadSerialized = 2; // MPI_THREAD_SERIALIZED in Open MPI's mpi.h
    private const int RtldNow = 2, RtldGlobal = 0x100;
    private static readonly string[] LibraryNames = ["libmpi.so.40", "libmpi.so"];

    private readonly Lock _gate = new();
    private readonly nint _world, _byte, _float, _double;
    private readonly delegate* unmanaged<int*, int> _initialized, _finalized;
    private readonly delegate* unmanaged<nint, nint, int, int*, int> _initThread;
    private readonly delegate* unmanaged<int> _finalize;
    private readonly delegate* unmanaged<nint, int*, int> _commRank, _commSize;
    private readonly delegate* unmanaged<nint, int, int> _abort;
    private readonly delegate* unmanaged<nint, int> _barrier;
    private readonly delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, int> _alltoallv;
    private readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> _allgatherv;
    private readonly delegate* unmanaged<void*, int, nint, int, nint, int> _bcast;
    private readonly delegate* unmanaged<byte*, int*, int> _libraryVersion;

    private OpenMpi(nint library)
    {
        _world = Export(library, "ompi_mpi_comm_world");
        _byte = Export(library, "ompi_mpi_byte");
        _float = Export(library, "ompi_mpi_float");
        _double = Export(library, "ompi_mpi_double");
        _initialized = (delegate* unmanaged<int*, int>)Export(library, "MPI_Initialized");
        _finalized = (delegate* unmanaged<int*, int>)Export(library, "MPI_Finalized");
        _initThread = (delegate* unmanaged<nint, nint, int, int*, int>)Export(library, "MPI_Init_thread");
        _finalize = (delegate* unmanaged<int>)Export(library, "MPI_Finalize");
        _commRank = (delegate* unmanaged<nint, int*, int>)Export(library, "MPI_Comm_rank");
        _commSize = (delegate* unmanaged<nint, int*, int>)Export(library, "MPI_Comm_size");
        _abort = (delegate* unmanaged<nint, int, int>)Export(library, "MPI_Abort");
        _barrier = (delegate* unmanaged<nint, int>)Export(library, "MPI_Barrier");
        _alltoallv = (delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, int>)Export(library, "MPI_Alltoallv");
        _allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Export(library, "MPI_Allgatherv");
        _bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export(library, "MPI_Bcast");
        _libraryVersion = (delegate* unmanaged<byte*, int*, int>)Export(library, "MPI_Get_library_version");
    }

    /// <summary>This process's rank in <c>MPI_COMM_WORLD</c>.</summary>
    public int Rank { get; private set; }

    /// <summary>The number of processes in <c>MPI_COMM_WORLD</c>.</summary>
    public int Size { get; private set; }

    /// <summary>The library and its version, e.g. "Open MPI v4.1.4".</summary>
    public string Version { get; private set; } = "";

    /// <summary>Opens libmpi and initializes MPI for serialized calls from any thread.</summary>
    /// <exception cref="DllNotFoundException">No Open MPI library could be opened.</exception>
    /// <exception cref="InvalidOperationException">MPI could not be initialized, or gives fewer than serialized calls.</exception>
    public static OpenMpi Initialize()
    {
        var mpi = new OpenMpi(OpenLibrary());
        mpi.Start();
        return mpi;
    }

    private void Start()
    {
        int flag;
        Check(_initialized(&flag), "MPI_Initialized");
        if (flag == 0)
        {
            int provided;
            Check(_initThread(0, 0, ThreadSerialized, &provided), "MPI_Init_thread");
            if (provided < ThreadSerialized)
                throw new InvalidOperationException($"The MPI library gives thread level {provided}; data parallelism needs " +
                    $"serialized calls ({ThreadSerialized}). Use an Open MPI built with thread support.");
        }
        int rank, size;
        Check(_commRank(_world, &rank), "MPI_Comm_rank");
        Check(_commSize(_world, &size), "MPI_Comm_size");
        (Rank, Size) = (rank, size);
        byte* text = stackalloc byte[8192];
        int length;
        Check(_libraryVersion(text, &length), "MPI_Get_library_version");
        Version = Encoding.UTF8.GetString(text, length).Split(',')[0].Trim();
    }

    /// <summary>
    /// Exchanges float segments: this rank sends <paramref name="sendCounts"/>[r] values from offset
    /// <paramref name="sendOffsets"/>[r] of <paramref name="send"/> to rank r, and receives rank r's segment for it at
    /// <paramref name="receiveOffsets"/>[r] of <paramref name="receive"/>.
    /// </summary>
    public void AllToAll(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, ReadOnlySpan<int> sendOffsets, Span<float> receive,
        ReadOnlySpan<int> receiveCounts, ReadOnlySpan<int> receiveOffsets)
    {
        lock (_gate)
        {
            fixed (float* s = send) fixed (float* r = receive)
            fixed (int* sc = sendCounts) fixed (int* so = sendOffsets) fixed (int* rc = receiveCounts) fixed (int* ro = receiveOffsets)
                Check(_alltoallv(s, sc, so, _float, r, rc, ro, _float, _world), "MPI_Alltoallv");
        }
    }

    /// <summary>Gathers every rank's float segment into <paramref name="receive"/> at its offset, on every rank.</summary>
    public void AllGather(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts, ReadOnlySpan<int> offsets)
    {
        lock (_gate)
        {
            fixed (float* s = send) fixed (float* r = receive) fixed (int* c = counts) fixed (int* o = offsets)
                Check(_allgatherv(s, send.Length, _float, r, c, o, _float, _world), "MPI_Allgatherv");
        }
    }

    /// <summary>Gathers one double per rank into <paramref name="receive"/> (<c>[size]</c>, rank order), on every rank.</summary>
    public void AllGather(double value, Span<double> receive)
    {
        Span<int> counts = stackalloc int[Size], offsets = stackalloc int[Size];
        for (int r = 0; r < Size; r++) (counts[r], offsets[r]) = (1, r);
        lock (_gate)
        {
            fixed (double* r = receive) fixed (int* c = counts) fixed (int* o = offsets)
                Check(_allgatherv(&value, 1, _double, r, c, o, _double, _world), "MPI_Allgatherv");
        }
    }

    /// <summary>Gathers every rank's bytes (all of one length) into <paramref name="receive"/> in rank order, on every rank.</summary>
    public void AllGather(ReadOnlySpan<byte> send, Span<byte> receive)
    {
        Span<int> counts = stackalloc int[Size], offsets = stackalloc int[Size];
        for (int r = 0; r < Size; r++) (counts[r], offsets[r]) = (send.Length, r * send.Length);
        lock (_gate)
        {
            fixed (byte* s = send) fixed (byte* r = receive) fixed (int* c = counts) fixed (int* o = offsets)
                Check(_allgatherv(s, send.Length, _byte, r, c, o, _byte, _world), "MPI_Allgatherv");
        }
    }

    /// <summary>Overwrites <paramref name="buffer"/> on every rank with rank <paramref name="root"/>'s.</summary>
    public void Broadcast(Span<byte> buffer, int root)
    {
        lock (_gate)
        {
            fixed (byte* b = buffer)
                Check(_bcast(b, buffer.Length, _byte, root, _world), "MPI_Bcast");
        }
    }

    /// <summary>Waits until every rank has called it.</summary>
    public void Barrier()
    {
        lock (_gate) Check(_barrier(_world), "MPI_Barrier");
    }

    /// <summary>Ends every process of the job with <paramref name="exitCode"/> (does not wait for the lock: another thread may hold
    /// it in a collective that will never finish).</summary>
    public void Abort(int exitCode) => _abort(_world, exitCode);

    /// <summary>Shuts MPI down (once, after the last collective of every rank).</summary>
    public void Shutdown()
    {
        lock (_gate)
        {
            int flag;
            Check(_finalized(&flag), "MPI_Finalized");
            if (flag == 0) Check(_finalize(), "MPI_Finalize");
        }
    }

    private static nint OpenLibrary()
    {
        var failures = new StringBuilder();
        foreach (string name in LibraryNames)
        {
            // Open MPI's plugins look its symbols up globally; NativeLibrary opens libraries RTLD_LOCAL.
            nint handle = DlOpen(name, RtldNow | RtldGlobal);
            if (handle != 0 && NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out _)) return handle;
            failures.Append(handle == 0 ? $" {name}: not found;" : $" {name}: not Open MPI (no ompi_mpi_comm_world);");
        }
        throw new DllNotFoundException("Data parallelism needs Open MPI's libmpi (e.g. Debian's openmpi-bin and libopenmpi3):" +
            failures.ToString().TrimEnd(';') + ".");
    }

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out nint address) ? address
        : throw new DllNotFoundException($"Open MPI's libmpi lacks '{name}': is it Open MPI 4 or newer?");

    private static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}.");
    }

    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpen(string file, int mode);
}
