using System.Diagnostics;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The events of ILGPU's CPU accelerator, whose launches and copies run to their end before they return (its stream never
/// has work in flight): a slot is the host's timestamp when it is recorded, which is when the stream passes it, as for
/// ILGPU's own CPU profiling markers.
/// </summary>
internal sealed class HostTimestampEvents(int count) : StreamEvents
{
    private readonly long[] _timestamps = new long[count];

    /// <inheritdoc/>
    public override void Record(int slot) => _timestamps[slot] = Stopwatch.GetTimestamp();

    /// <inheritdoc/>
    public override void WaitFor(int slot) { }

    /// <inheritdoc/>
    public override double Milliseconds(int from, int to) => Stopwatch.GetElapsedTime(_timestamps[from], _timestamps[to]).TotalMilliseconds;

    /// <inheritdoc/>
    public override void Dispose() { }
}
