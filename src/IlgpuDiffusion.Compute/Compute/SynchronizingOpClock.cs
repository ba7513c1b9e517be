using System.Diagnostics;

namespace IlgpuDiffusion.Compute;

/// <summary>
/// Times each op on the host between two synchronizations of its device (<paramref name="synchronize"/>, a wait left out of
/// <see cref="Device.HostWaits"/>): the op's own time, but the host waits for every op. For devices without a stream to
/// record events on (the SIMD CPU backend, whose ops run as they are called, and OpenCL).
/// </summary>
internal sealed class SynchronizingOpClock(Action synchronize) : OpClock
{
    /// <inheritdoc/>
    public override bool OnDevice => false;

    /// <inheritdoc/>
    public override long Start(KernelProfile profile)
    {
        synchronize();
        return Stopwatch.GetTimestamp();
    }

    /// <inheritdoc/>
    public override void Stop(int op, long token, KernelProfile profile)
    {
        synchronize();
        profile.Add(op, Stopwatch.GetTimestamp() - token);
    }
}
