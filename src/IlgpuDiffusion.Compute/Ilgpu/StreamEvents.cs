namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// A fixed set of timing events on an ILGPU device's stream, by slot: each recorded after the work queued before it, so
/// the time between two of them is the device's time for the work between. Created once per profile; recording allocates
/// nothing. Used under the device's lock.
/// </summary>
internal abstract class StreamEvents : IDisposable
{
    /// <summary>Records slot <paramref name="slot"/> on the stream, after the work queued so far.</summary>
    public abstract void Record(int slot);

    /// <summary>Waits until the stream has passed slot <paramref name="slot"/>, and so every slot recorded before it.</summary>
    public abstract void WaitFor(int slot);

    /// <summary>Milliseconds from slot <paramref name="from"/> to slot <paramref name="to"/>, both passed.</summary>
    public abstract double Milliseconds(int from, int to);

    /// <summary>Releases the events.</summary>
    public abstract void Dispose();
}
