namespace IlgpuDiffusion.Compute;

/// <summary>
/// How a running <see cref="KernelProfile"/> times its device's ops. Every call comes under the device's lock; ops do not
/// nest (each is one backend call).
/// </summary>
internal abstract class OpClock : IDisposable
{
    /// <summary>Whether ops are timed on the device (see <see cref="KernelProfile.TimedOnDevice"/>).</summary>
    public abstract bool OnDevice { get; }

    /// <summary>
    /// Before an op: a nonzero token for <see cref="Stop"/>; may first add earlier ops' times to <paramref name="profile"/>.
    /// </summary>
    public abstract long Start(KernelProfile profile);

    /// <summary>
    /// After op <paramref name="op"/> (an index of <see cref="DeviceKernels.Ops"/>) that started with <paramref name="token"/>.
    /// </summary>
    public abstract void Stop(int op, long token, KernelProfile profile);

    /// <summary>Adds the time of every op stopped so far and not yet added to <paramref name="profile"/>, waiting for them.</summary>
    public virtual void Flush(KernelProfile profile) { }

    /// <summary>Releases what the clock holds on the device.</summary>
    public virtual void Dispose() { }
}
