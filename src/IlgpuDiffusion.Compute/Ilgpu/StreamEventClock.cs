using System.Diagnostics;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Times each op from an event recorded on the device's stream before it to one after it, so the host queues ops without
/// waiting, as it does unprofiled. The pairs' times are read back in batches: when the profile is read, paused or stopped,
/// and when <see cref="Capacity"/> pairs are pending (a training step of a 12-layer DiT queues 330 ops, so a profiled run
/// waits for the device about once per six steps, where a synchronizing clock waits twice per op).
/// </summary>
internal sealed class StreamEventClock : OpClock
{
    /// <summary>Op pairs recorded before the clock reads them back.</summary>
    public const int Capacity = 2048;

    private readonly StreamEvents _events; // 2·Capacity slots: op pair i starts at slot 2i and ends at 2i + 1
    private readonly int[] _ops = new int[Capacity];
    private int _pairs;

    /// <summary>A clock over <paramref name="createEvents"/>(slots), called once for the slots it needs.</summary>
    public StreamEventClock(Func<int, StreamEvents> createEvents) => _events = createEvents(2 * Capacity);

    /// <inheritdoc/>
    public override bool OnDevice => true;

    /// <inheritdoc/>
    public override long Start(KernelProfile profile)
    {
        if (_pairs == Capacity) Flush(profile);
        _events.Record(2 * _pairs);
        return _pairs + 1;
    }

    /// <inheritdoc/>
    public override void Stop(int op, long token, KernelProfile profile)
    {
        int pair = checked((int)token - 1);
        if (pair != _pairs)
            throw new InvalidOperationException($"Op pair {pair} stopped while pair {_pairs} was the open one: ops do not nest.");
        _events.Record(2 * pair + 1);
        _ops[pair] = op;
        _pairs++;
    }

    /// <inheritdoc/>
    public override void Flush(KernelProfile profile)
    {
        if (_pairs == 0) return;
        _events.WaitFor(2 * _pairs - 1);
        for (int pair = 0; pair < _pairs; pair++)
        {
            double milliseconds = _events.Milliseconds(2 * pair, 2 * pair + 1);
            profile.Add(_ops[pair], (long)Math.Round(milliseconds * Stopwatch.Frequency / 1000));
        }
        _pairs = 0;
    }

    /// <inheritdoc/>
    public override void Dispose() => _events.Dispose();
}
