using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu;
using IlgpuDiffusion.Ilgpu;

namespace IlgpuDiffusion.Distributed;

/// <summary>
/// The processes of one data-parallel job and the sums they share (docs/data-parallel.md). Each process (rank) holds a
/// replica of the model and runs its share of every optimizer step's micro-batches; the trainers then add the ranks'
/// gradients and losses with <see cref="SumInRankOrder(Tensor{float})"/>, so every replica takes the same update.
/// <see cref="FromEnvironment"/> joins the job <c>mpirun</c> started (Open MPI, through its <c>libmpi</c>); a process
/// started without it is the one rank of <see cref="Single"/>, and no MPI library is loaded. Sums are deterministic and
/// identical on every rank: each rank adds the copies of its segment in rank order, then every rank gathers every segment.
/// Calls from several threads are serialized (one sum at a time); every rank must make the same calls in the same order.
/// </summary>
public sealed class DataParallelGroup : IDisposable
{
    private const string SizeVariable = "OMPI_COMM_WORLD_SIZE", LocalRankVariable = "OMPI_COMM_WORLD_LOCAL_RANK";
    private static readonly string[] OtherLaunchers = ["PMI_SIZE", "PMIX_RANK", "SLURM_NTASKS"];

    private readonly OpenMpi? _mpi;
    private readonly GradientReduction _reduction;
    private readonly Lock _sumGate = new();
    private long _sumTicks;
    private bool _disposed;

    private DataParallelGroup(OpenMpi? mpi, int localRank)
    {
        _mpi = mpi;
        Rank = mpi?.Rank ?? 0;
        Size = mpi?.Size ?? 1;
        LocalRank = localRank;
        Transport = mpi is null ? "one process" : mpi.Version;
        GradientSums = mpi is null ? "none (one process)" : $"in host memory through {Transport}";
        _reduction = new GradientReduction(this);
    }

    /// <summary>One process on its own: rank 0 of 1, with sums that return their input.</summary>
    public static DataParallelGroup Single { get; } = new(null, 0);

    /// <summary>This process's rank, from 0.</summary>
    public int Rank { get; }

    /// <summary>The number of ranks.</summary>
    public int Size { get; }

    /// <summary>This process's rank among the ranks on its machine (which GPU it takes).</summary>
    public int LocalRank { get; }

    /// <summary>Whether this is rank 0, the one that writes checkpoints and metrics and reports progress.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>What carries the sums: "one process", or the MPI library's version.</summary>
    public string Transport { get; }

    /// <summary>
    /// Where the gradient sums run: in host memory through MPI (rank order, bit-reproducible), or on CUDA devices in GPU memory
    /// through NCCL when every rank's device is a CUDA one and every rank has NCCL (see <see cref="PrepareSums"/>).
    /// </summary>
    public string GradientSums { get; internal set; }

    /// <summary>
    /// Picks where the sums of tensors on <paramref name="device"/> run (<see cref="GradientSums"/>): through NCCL when it can run
    /// on every rank's device, else through MPI on the host. Every rank must call it together; the trainers do when they are
    /// built, and a first sum on another device does it itself.
    /// </summary>
    /// <exception cref="InvalidOperationException">NCCL is present on every rank but failed to set up.</exception>
    public void PrepareSums(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Size == 1) return;
        lock (_sumGate) GradientSums = _reduction.Prepare(device);
    }

    /// <summary>
    /// Wall time this rank has spent in <see cref="SumInRankOrder(Tensor{float})"/> and <see cref="SumInRankOrder(double)"/>,
    /// waiting for slower ranks included (zero for one process). Sums that overlap the backward pass count in full, although
    /// the step does not wait for most of them.
    /// </summary>
    public TimeSpan SumTime
    {
        get
        {
            lock (_sumGate) return Stopwatch.GetElapsedTime(0, _sumTicks);
        }
    }

    /// <summary>
    /// Joins the job <c>mpirun</c> started this process in (initializing MPI), or returns <see cref="Single"/> when it was
    /// started on its own or as a job of one rank.
    /// </summary>
    /// <exception cref="DllNotFoundException">Started by mpirun, but Open MPI's libmpi cannot be opened.</exception>
    /// <exception cref="NotSupportedException">Started by another launcher (MPICH's, Slurm's srun) as one of several ranks.</exception>
    public static DataParallelGroup FromEnvironment()
    {
        int size = LaunchedRanks;
        if (size <= 1)
        {
            foreach (string name in OtherLaunchers)
                if (Variable(name) is > 1)
                    throw new NotSupportedException($"This process was started as one of several ranks ({name} is set) by a " +
                        "launcher other than Open MPI's mpirun; data parallelism runs under Open MPI's mpirun only.");
            return Single;
        }
        return new DataParallelGroup(OpenMpi.Initialize(), Variable(LocalRankVariable) ?? 0);
    }

    /// <summary>
    /// Adds <paramref name="values"/> (e.g. a gradient arena) over all ranks, in place on every rank: the same sum, added in
    /// rank order, on each. Allocates nothing once the first call of a length has run.
    /// </summary>
    public void SumInRankOrder(Tensor<float> values)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Size == 1) return;
        lock (_sumGate)
        {
            long start = Stopwatch.GetTimestamp();
            _reduction.Sum(values);
            _sumTicks += Stopwatch.GetTimestamp() - start;
        }
    }

    /// <summary>Adds <paramref name="value"/> over all ranks in rank order; every rank gets the same sum.</summary>
    public double SumInRankOrder(double value)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_mpi is null) return value;
        Span<double> values = stackalloc double[Size];
        lock (_sumGate)
        {
            long start = Stopwatch.GetTimestamp();
            _mpi.AllGather(value, values);
            _sumTicks += Stopwatch.GetTimestamp() - start;
        }
        double sum = values[0];
        for (int r = 1; r < Size; r++) sum += values[r];
        return sum;
    }

    /// <summary>
    /// Throws on every rank unless all ranks pass the same <paramref name="value"/> (e.g. a run's settings): ranks that train
    /// different runs would silently average nonsense.
    /// </summary>
    /// <param name="what">What the value is, for the message.</param>
    /// <exception cref="InvalidOperationException">Some rank's value differs from rank 0's.</exception>
    public void RequireSame(string what, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_mpi is null) return;
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(value));
        var all = new byte[hash.Length * Size];
        _mpi.AllGather(hash, all);
        var differing = new List<string>();
        for (int r = 1; r < Size; r++)
            if (!all.AsSpan(r * hash.Length, hash.Length).SequenceEqual(all.AsSpan(0, hash.Length)))
                differing.Add(r.ToString(CultureInfo.InvariantCulture));
        if (differing.Count > 0)
            throw new InvalidOperationException($"The {what} of rank{(differing.Count > 1 ? "s" : "")} {string.Join(", ", differing)} " +
                $"differ from rank 0's: every rank of a data-parallel job must run the same command on the same data " +
                $"(this is rank {Rank}; its {what}: {value}).");
    }

    /// <summary>Whether <paramref name="value"/> is true on every rank.</summary>
    internal bool OnEveryRank(bool value)
    {
        if (_mpi is null) return value;
        Span<byte> all = stackalloc byte[Size];
        _mpi.AllGather([value ? (byte)1 : (byte)0], all);
        return !all.Contains((byte)0);
    }

    /// <summary>Overwrites <paramref name="buffer"/> on every rank with rank 0's.</summary>
    public void BroadcastFromRoot(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _mpi?.Broadcast(buffer, 0);
    }

    /// <summary>Waits until every rank has called it.</summary>
    public void Barrier()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _mpi?.Barrier();
    }

    /// <summary>
    /// Ends every rank of the job at once with <paramref name="exitCode"/> (MPI_Abort): what a rank that failed does, so the
    /// others do not wait for it in their next sum. Returns (only) on <see cref="Single"/>.
    /// </summary>
    public void Abort(int exitCode) => _mpi?.Abort(exitCode);

    /// <summary>How many ranks Open MPI's mpirun started this process among (1 when it did not start it).</summary>
    internal static int LaunchedRanks => Variable(SizeVariable) ?? 1;

    /// <summary>The MPI calls behind the sums, or null for <see cref="Single"/>.</summary>
    internal OpenMpi? Mpi => _mpi;

    /// <summary>Shuts MPI down after this rank's last sum (every rank must dispose its group); <see cref="Single"/> ignores it.</summary>
    public void Dispose()
    {
        if (_mpi is null || _disposed) return;
        _disposed = true;
        _reduction.Dispose();
        _mpi.Shutdown();
    }

    private static int? Variable(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
            ? value : null;

    /// <summary>
    /// The deterministic sum of a float buffer over the ranks: all-to-all of the segments (<see cref="RankSegments"/>), each rank
    /// adds the R copies of its own segment in rank order (in cache-sized chunks on all cores: one pass over the copies), then
    /// all-gather of the sums. Device tensors off the CPU backend are staged through one host buffer, unless every rank can sum
    /// its CUDA device's tensors with NCCL.
    /// </summary>
    private sealed class GradientReduction : IDisposable
    {
        private const int ChunkLength = 16 * 1024;

        private readonly DataParallelGroup _group;
        private readonly Action<int> _addChunk;
        private Device? _device;
        private NcclCommunicator? _nccl;
        private readonly Dictionary<int, RankSegments> _segments = [];
        private float[] _staging = [], _received = [], _segment = [];
        private int _own;

        public GradientReduction(DataParallelGroup group)
        {
            _group = group;
            _addChunk = AddChunk;
        }

        /// <summary>Picks NCCL or the host for <paramref name="device"/>, with every rank; returns the choice in words.</summary>
        public string Prepare(Device device)
        {
            _nccl?.Dispose();
            _nccl = null;
            _device = device;
            bool here = NcclCommunicator.IsSupported(device, out string reason);
            if (_group.OnEveryRank(here))
            {
                _nccl = NcclCommunicator.TryCreate(device, _group.Rank, _group.Size, _group.BroadcastFromRoot, out reason)
                    ?? throw new InvalidOperationException($"NCCL was usable on every rank, then not here: {reason}");
                return $"in GPU memory through {_nccl.Version}";
            }
            return $"in host memory through {_group.Transport} ({(here ? "another rank cannot use NCCL" : reason.TrimEnd('.'))})";
        }

        public void Sum(Tensor<float> values)
        {
            if (!ReferenceEquals(values.Device, _device)) _group.GradientSums = Prepare(values.Device);
            if (_nccl is not null)
            {
                _nccl.AllReduceSum(values);
                return;
            }
            OpenMpi mpi = _group._mpi!;
            int length = checked((int)values.Length);
            bool staged = values.Buffer is not CpuBuffer<float>;
            RankSegments segments = SegmentsOf(length);
            if (staged && _staging.Length < length) _staging = GC.AllocateUninitializedArray<float>(length, pinned: true);
            _own = segments.Counts[_group.Rank];
            Span<float> host = staged ? _staging.AsSpan(0, length) : values.AsSpan();
            if (staged) values.CopyTo(host);
            int ranks = _group.Size;
            Span<int> receiveCounts = stackalloc int[ranks], receiveOffsets = stackalloc int[ranks];
            for (int r = 0; r < ranks; r++) (receiveCounts[r], receiveOffsets[r]) = (_own, r * _own);
            mpi.AllToAll(host, segments.Counts, segments.Offsets, _received, receiveCounts, receiveOffsets);
            Parallel.For(0, (_own + ChunkLength - 1) / ChunkLength, _addChunk);
            mpi.AllGather(_segment.AsSpan(0, _own), host, segments.Counts, segments.Offsets);
            if (staged) values.CopyFrom(host);
        }

        /// <summary>Chunk <paramref name="chunk"/> of this rank's segment: rank 0's copy plus rank 1's, … in rank order.</summary>
        private void AddChunk(int chunk)
        {
            int start = chunk * ChunkLength, count = Math.Min(ChunkLength, _own - start);
            Span<float> sum = _segment.AsSpan(start, count);
            _received.AsSpan(start, count).CopyTo(sum);
            for (int r = 1; r < _group.Size; r++)
                System.Numerics.Tensors.TensorPrimitives.Add(sum, _received.AsSpan(r * _own + start, count), sum);
        }

        /// <summary>
        /// The split of <paramref name="length"/> values, with receive buffers large enough for it: made on the first sum of each length
        /// (the whole arena, or each piece of an <see cref="OverlappedGradientSum"/>), reused after.
        /// </summary>
        private RankSegments SegmentsOf(int length)
        {
            if (_segments.TryGetValue(length, out RankSegments? known)) return known;
            var segments = new RankSegments(length, _group.Size);
            int own = segments.Counts[_group.Rank];
            if (_received.Length < own * _group.Size)
                _received = GC.AllocateUninitializedArray<float>(own * _group.Size, pinned: true);
            if (_segment.Length < own) _segment = GC.AllocateUninitializedArray<float>(own, pinned: true);
            _segments[length] = segments;
            return segments;
        }

        public void Dispose()
        {
            _nccl?.Dispose();
            (_staging, _received, _segment, _nccl) = ([], [], [], null);
            _segments.Clear();
        }
    }
}
