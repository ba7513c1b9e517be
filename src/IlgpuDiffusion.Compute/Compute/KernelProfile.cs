using System.Diagnostics;

namespace IlgpuDiffusion.Compute;

/// <summary>One op's share of a <see cref="KernelProfile"/>.</summary>
/// <param name="Op">The <see cref="IKernels"/> method, e.g. <c>LinearBackward</c>.</param>
/// <param name="Family">Its op family (the IKernels file it is declared in), e.g. <c>MatMul</c>.</param>
/// <param name="Calls">Calls while the profile ran.</param>
/// <param name="Time">Their time on the device (see <see cref="KernelProfile.TimedOnDevice"/>).</param>
public readonly record struct KernelProfileEntry(string Op, string Family, long Calls, TimeSpan Time);

/// <summary>
/// Where a device's time goes, op by op, between <see cref="Device.StartProfile"/> and <see cref="Dispose"/>. On a device
/// with a stream (CUDA, ILGPU's CPU accelerator) each op of the built-in backends is timed by events recorded on the
/// stream before and after it, read back in batches, so the host queues ops as it does unprofiled; elsewhere each op runs
/// between two synchronizations (<see cref="TimedOnDevice"/> says which). Either way <see cref="Entries"/> attribute the
/// device's time to ops, and <see cref="Elapsed"/> − <see cref="InOps"/> is what ran outside them (host work, uploads,
/// reads, and on a stream the time the device waited for the host to queue work). The training loop pauses the profile of
/// its device during validation and checkpoints. Recording allocates nothing, so a profiled step still allocates nothing.
/// </summary>
public sealed class KernelProfile : IDisposable
{
    private readonly Device _device;
    private readonly long[] _calls = new long[DeviceKernels.Ops.Length];
    private readonly long[] _ticks = new long[DeviceKernels.Ops.Length];
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly long _waitsAtStart;
    private long _stopped, _pausedAt, _pausedTicks, _waitsAtStop, _waitsAtPause, _pausedWaits;

    internal KernelProfile(Device device, OpClock clock)
    {
        _device = device;
        Clock = clock;
        _waitsAtStart = device.HostWaits;
    }

    /// <summary>How the profile times ops on its device.</summary>
    internal OpClock Clock { get; }

    /// <summary>
    /// Whether each op's time is measured on the device, from an event recorded on its stream before the op to one after it
    /// (the op's device time, plus any time the device waited for the host to queue it; the host does not wait between
    /// ops), rather than between two synchronizations of the device (the host waits for each op, which slows the run).
    /// </summary>
    public bool TimedOnDevice => Clock.OnDevice;

    /// <summary>Wall time since the profile started (until it was disposed), pauses left out.</summary>
    public TimeSpan Elapsed =>
        Stopwatch.GetElapsedTime(_started, _stopped != 0 ? _stopped : Stopwatch.GetTimestamp())
        - TimeSpan.FromSeconds((double)_pausedTicks / Stopwatch.Frequency);

    /// <summary>
    /// The host's waits for the device (<see cref="Device.HostWaits"/>) while the profile ran, pauses left out: the
    /// synchronizations the profiled code makes, not the profile's own.
    /// </summary>
    public long HostWaits => (_stopped != 0 ? _waitsAtStop : _device.HostWaits) - _waitsAtStart - _pausedWaits;

    /// <summary>Whether the profile is paused (its device's ops are not recorded).</summary>
    internal bool Paused => _pausedAt != 0;

    /// <summary>Leaves what follows out of the profile until <see cref="Resume"/> (a training run's validation and checkpoints).</summary>
    internal void Pause()
    {
        if (_pausedAt != 0) return;
        _pausedAt = Stopwatch.GetTimestamp();
        _waitsAtPause = _device.HostWaits;
    }

    /// <summary>Ends a <see cref="Pause"/>.</summary>
    internal void Resume()
    {
        if (_pausedAt == 0) return;
        _pausedTicks += Stopwatch.GetTimestamp() - _pausedAt;
        _pausedWaits += _device.HostWaits - _waitsAtPause;
        _pausedAt = 0;
    }

    /// <summary>Time inside ops, all of them together (while the profile runs, reading it waits for the ops queued so far).</summary>
    public TimeSpan InOps
    {
        get
        {
            _device.FlushProfile(this);
            return TimeSpan.FromSeconds((double)_ticks.Sum() / Stopwatch.Frequency);
        }
    }

    /// <summary>The ops that ran, most time first (while the profile runs, reading them waits for the ops queued so far).</summary>
    public IReadOnlyList<KernelProfileEntry> Entries
    {
        get
        {
            _device.FlushProfile(this);
            return Enumerable.Range(0, _calls.Length)
                .Where(op => Volatile.Read(ref _calls[op]) > 0)
                .Select(op => new KernelProfileEntry(DeviceKernels.Ops[op].Op, DeviceKernels.Ops[op].Family,
                    Volatile.Read(ref _calls[op]), TimeSpan.FromSeconds((double)Volatile.Read(ref _ticks[op]) / Stopwatch.Frequency)))
                .OrderByDescending(entry => entry.Time)
                .ToArray();
        }
    }

    internal void Add(int op, long ticks)
    {
        Interlocked.Increment(ref _calls[op]);
        Interlocked.Add(ref _ticks[op], ticks);
    }

    /// <summary>Ends the profile after the device's queued work; its numbers stay readable.</summary>
    public void Dispose()
    {
        if (_stopped != 0) return;
        Resume();
        _device.StopProfile(this);
        _waitsAtStop = _device.HostWaits;
        _stopped = Stopwatch.GetTimestamp();
    }
}
