using IlgpuDiffusion.Cpu;
using IlgpuDiffusion.Ilgpu;

namespace IlgpuDiffusion.Compute;

/// <summary>
/// A place where tensors live and kernels run: the SIMD CPU backend or an ILGPU
/// accelerator. Owns its kernels; allocate buffers and arenas through it.
/// </summary>
/// <remarks>
/// A device may be used from several threads: each op of <see cref="Kernels"/> holds the device's lock (so do an ILGPU
/// device's copies, allocations and synchronizations), so calls from different threads run one after another, each
/// whole. Each caller gets the results it gets alone, as long as no two threads write the same tensors (two models, or a
/// model and a sampler of another model, on one device are fine; one model trained from two threads is not). On a GPU the
/// ops of all threads share one stream.
/// </remarks>
public abstract class Device : IDisposable
{
    private readonly Lock _lock = new();
    private readonly HashSet<IDisposable> _heldBuffers = [];
    private KernelProfile? _profile;
    private long _liveBuffers;
    private long _hostWaits;

    /// <summary>Which kernels this device runs.</summary>
    public abstract Backend Backend { get; }

    /// <summary>Human-readable description (device name, memory, threads).</summary>
    public abstract string Description { get; }

    /// <summary>How GEMMs multiply on this device (see <see cref="MatMulPrecision"/>); fp32 unless the device has tensor cores.</summary>
    public virtual MatMulPrecision Precision => MatMulPrecision.Fp32;

    /// <summary>The op set for this device; safe to call from several threads (each op holds the device's lock).</summary>
    public abstract IKernels Kernels { get; }

    /// <summary>
    /// The multiple a trainer pads the output head's rows to (the MDLM head runs on the masked rows, a count that changes
    /// with every draw): 1 where a GEMM costs the same per row whatever the count (the SIMD CPU backend), more where the
    /// GEMMs work in blocks of rows.
    /// </summary>
    internal virtual int HeadRowMultiple => 1;

    /// <summary>Allocates a zero-filled buffer of <paramref name="length"/> elements.</summary>
    public abstract DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged;

    /// <summary>Waits until all queued work has finished.</summary>
    public abstract void Synchronize();

    /// <summary>
    /// How many times the host has waited for this device's queued work: <see cref="Synchronize"/> calls and copies to or
    /// from the host (which wait first), the library's own included, not a profile's waits around each op. A GPU idles
    /// while the host catches up after each, so a training step should make few. The SIMD CPU backend runs ops as they
    /// are called and never waits (0).
    /// </summary>
    public long HostWaits => Interlocked.Read(ref _hostWaits);

    /// <summary>Counts one wait of the host for queued work (see <see cref="HostWaits"/>).</summary>
    private protected void CountHostWait() => Interlocked.Increment(ref _hostWaits);

    /// <summary>A wait for queued work on behalf of a profile, left out of <see cref="HostWaits"/>.</summary>
    private protected virtual void SynchronizeForProfile() => Synchronize();

    /// <summary>
    /// Allocates a zero-filled tensor over a buffer of its own; dispose the result to free it (<c>using var t = ...</c>), or
    /// let the device free it when the device is disposed.
    /// </summary>
    public OwnedTensor<T> AllocateTensor<T>(Shape shape) where T : unmanaged =>
        new(new Tensor<T>(Allocate<T>(shape.Length), 0, shape));

    /// <summary>
    /// Allocates a tensor holding a copy of <paramref name="data"/>; dispose the result to free it (<c>using var t = ...</c>),
    /// or let the device free it when the device is disposed.
    /// </summary>
    public OwnedTensor<T> Upload<T>(ReadOnlySpan<T> data, Shape shape) where T : unmanaged
    {
        var tensor = AllocateTensor<T>(shape);
        try
        {
            tensor.CopyFrom(data);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
        return tensor;
    }

    /// <summary>Buffers allocated on this device and not yet disposed.</summary>
    internal long LiveBuffers => Interlocked.Read(ref _liveBuffers);

    /// <summary>
    /// Whether the device holds each live buffer until that is disposed, so that disposing the device frees the ones still
    /// alive: memory that only Dispose frees. The CPU backend's buffers are managed arrays the GC reclaims, so it does not.
    /// </summary>
    private protected virtual bool HoldsLiveBuffers => false;

    /// <summary>Counts (and, where <see cref="HoldsLiveBuffers"/>, holds) a buffer just allocated on this device.</summary>
    internal void OnBufferAllocated(IDisposable buffer)
    {
        Interlocked.Increment(ref _liveBuffers);
        if (!HoldsLiveBuffers) return;
        lock (_heldBuffers) _heldBuffers.Add(buffer);
    }

    /// <summary>Forgets a buffer of this device just disposed.</summary>
    internal void OnBufferReleased(IDisposable buffer)
    {
        Interlocked.Decrement(ref _liveBuffers);
        if (!HoldsLiveBuffers) return;
        lock (_heldBuffers) _heldBuffers.Remove(buffer);
    }

    /// <summary>Disposes the buffers still alive (a device's Dispose calls it before releasing its memory).</summary>
    private protected void DisposeLiveBuffers()
    {
        IDisposable[] alive;
        lock (_heldBuffers) alive = [.. _heldBuffers];
        foreach (IDisposable buffer in alive) buffer.Dispose();
    }

    /// <summary>Releases the device's resources.</summary>
    public abstract void Dispose();

    /// <summary>
    /// Waits for the device's lock (held by the caller's thread until the scope is disposed; a thread that holds it may
    /// enter again) and makes the device current on the calling thread.
    /// </summary>
    internal Lock.Scope EnterLock()
    {
        var scope = _lock.EnterScope();
        BindToCallingThread();
        return scope;
    }

    /// <summary>Starts op <paramref name="op"/> (an index of <see cref="DeviceKernels.Ops"/>) under the device's lock.</summary>
    internal DeviceOp BeginOp(int op) => new(this, op);

    /// <summary>Makes the device current on the calling thread where its runtime binds devices to threads (CUDA contexts).</summary>
    private protected virtual void BindToCallingThread() { }

    /// <summary>
    /// Starts timing every op of the built-in backends on this device until the returned profile is disposed (see
    /// <see cref="KernelProfile"/>: by events on the device's stream where it has one, else between two synchronizations,
    /// which slows the run). One profile at a time.
    /// </summary>
    /// <exception cref="InvalidOperationException">A profile of this device is already running.</exception>
    public KernelProfile StartProfile()
    {
        using var scope = EnterLock();
        if (Volatile.Read(ref _profile) is not null)
            throw new InvalidOperationException("A profile of this device is already running; dispose it before starting another.");
        SynchronizeForProfile();
        var profile = new KernelProfile(this, CreateOpClock());
        Volatile.Write(ref _profile, profile);
        return profile;
    }

    /// <summary>The clock of a new profile (called under the device's lock): synchronizations, unless the device has a stream.</summary>
    private protected virtual OpClock CreateOpClock() => new SynchronizingOpClock(SynchronizeForProfile);

    /// <summary>Ends <paramref name="profile"/> (after the device's queued work).</summary>
    internal void StopProfile(KernelProfile profile)
    {
        using var scope = EnterLock();
        if (Volatile.Read(ref _profile) != profile) return;
        profile.Clock.Flush(profile);
        SynchronizeForProfile();
        profile.Clock.Dispose();
        Volatile.Write(ref _profile, null);
    }

    /// <summary>Adds the times of the ops <paramref name="profile"/> has queued so far to it, if it still runs.</summary>
    internal void FlushProfile(KernelProfile profile)
    {
        using var scope = EnterLock();
        if (Volatile.Read(ref _profile) == profile) profile.Clock.Flush(profile);
    }

    /// <summary>Leaves the work that follows out of a running profile until <see cref="ResumeProfile"/> (no-op without one).</summary>
    internal void PauseProfile()
    {
        using var scope = EnterLock();
        if (Volatile.Read(ref _profile) is not { } profile) return;
        profile.Clock.Flush(profile);
        SynchronizeForProfile();
        profile.Pause();
    }

    /// <summary>Ends a <see cref="PauseProfile"/>.</summary>
    internal void ResumeProfile() => Volatile.Read(ref _profile)?.Resume();

    /// <summary>Before an op, under the device's lock: 0 when no profile runs (or it is paused), else the clock's token.</summary>
    internal long StartTiming() => Volatile.Read(ref _profile) is { Paused: false } profile ? profile.Clock.Start(profile) : 0;

    /// <summary>
    /// After op <paramref name="op"/> (an index of <see cref="DeviceKernels.Ops"/>) whose <see cref="StartTiming"/> gave
    /// <paramref name="token"/>, under the device's lock.
    /// </summary>
    internal void EndTiming(int op, long token)
    {
        if (token == 0 || Volatile.Read(ref _profile) is not { } profile) return;
        profile.Clock.Stop(op, token, profile);
    }

    /// <summary>Opens the best device present: CUDA when a CUDA device is present, else the SIMD CPU backend.</summary>
    public static Device Create() => Create((Backend?)null, null);

    /// <summary>
    /// Opens a device. <paramref name="backend"/> is one of <see cref="BackendNames.Accepted"/>;
    /// "auto" (or null) picks CUDA when a CUDA device is present, else the SIMD CPU backend.
    /// </summary>
    public static Device Create(string? backend) => Create(BackendNames.Parse(backend), null);

    /// <summary>Opens a device for <paramref name="backend"/>, or the best one present when null.</summary>
    public static Device Create(Backend? backend) => Create(backend, null);

    /// <summary>
    /// Opens a device for <paramref name="backend"/> (the best one present when null) whose GEMMs multiply in
    /// <paramref name="precision"/> (when null, the device's best: TF32 on CUDA GPUs with tensor cores, else fp32).
    /// </summary>
    /// <exception cref="ArgumentException">The device cannot multiply in <paramref name="precision"/> (no tensor cores).</exception>
    public static Device Create(Backend? backend, MatMulPrecision? precision) => Create(backend, precision, 0);

    /// <summary>
    /// Opens device number <paramref name="deviceIndex"/> (from 0, in the order of the backend's runtime: CUDA's device
    /// ordinal, after <c>CUDA_VISIBLE_DEVICES</c>) of <paramref name="backend"/> (the best backend present when null), whose
    /// GEMMs multiply in <paramref name="precision"/> (the device's best when null). Each rank of a data-parallel job on one
    /// machine opens the GPU of its local rank. The CPU backend is one device and accepts any index.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="deviceIndex"/> is negative.</exception>
    /// <exception cref="ArgumentException">
    /// The machine has no device <paramref name="deviceIndex"/> of the backend, or the device cannot multiply in
    /// <paramref name="precision"/> (no tensor cores).
    /// </exception>
    public static Device Create(Backend? backend, MatMulPrecision? precision, int deviceIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deviceIndex);
        Backend chosen = backend ?? (IlgpuRuntime.HasCuda ? Backend.Cuda : Backend.Cpu);
        if (chosen != Backend.Cpu) return IlgpuDevice.Open(chosen, precision, deviceIndex);
        if (precision is { } asked && asked != MatMulPrecision.Fp32)
            throw new ArgumentException($"The CPU backend multiplies in fp32; {asked.Name()} needs a CUDA GPU of compute " +
                "capability 8.0 or newer. Use --precision fp32 (or auto) on this device.", nameof(precision));
        return new CpuDevice();
    }
}
