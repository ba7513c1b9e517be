using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// CUDA events (<c>cuEventRecord</c> on the device's stream, <c>cuEventElapsedTime</c> between two, about half a
/// microsecond of resolution) through ILGPU's driver bindings, created once for all the slots. Call with the device's
/// context current (under its lock).
/// </summary>
internal sealed class CudaStreamEvents : StreamEvents
{
    private readonly nint _stream;
    private readonly nint[] _events;

    /// <summary>Creates <paramref name="count"/> timing events for <paramref name="stream"/>.</summary>
    public CudaStreamEvents(CudaStream stream, int count)
    {
        _stream = stream.StreamPtr;
        _events = new nint[count];
        try
        {
            for (int i = 0; i < count; i++)
                CudaException.ThrowIfFailed(CudaAPI.CurrentAPI.CreateEvent(out _events[i], CudaEventFlags.CU_EVENT_DEFAULT));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public override void Record(int slot) => CudaException.ThrowIfFailed(CudaAPI.CurrentAPI.RecordEvent(_events[slot], _stream));

    /// <inheritdoc/>
    public override void WaitFor(int slot) => CudaException.ThrowIfFailed(CudaAPI.CurrentAPI.SynchronizeEvent(_events[slot]));

    /// <inheritdoc/>
    public override double Milliseconds(int from, int to)
    {
        CudaException.ThrowIfFailed(CudaAPI.CurrentAPI.ElapsedTime(out float milliseconds, _events[from], _events[to]));
        return milliseconds;
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        for (int i = 0; i < _events.Length; i++)
        {
            if (_events[i] == 0) continue;
            CudaAPI.CurrentAPI.DestroyEvent(_events[i]);
            _events[i] = 0;
        }
    }
}
