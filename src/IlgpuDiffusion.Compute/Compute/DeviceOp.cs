namespace IlgpuDiffusion.Compute;

/// <summary>
/// One op of a device's kernels in flight (<c>using var op = device.BeginOp(index)</c>): holds the device's lock, so that
/// ops from several threads run one after another, and times the op while a <see cref="KernelProfile"/> runs.
/// A struct on the stack: an op allocates nothing.
/// </summary>
internal ref struct DeviceOp
{
    private readonly Device _device;
    private readonly int _op;
    private readonly long _start;
    private Lock.Scope _lock;

    /// <summary>
    /// Waits for the device's lock, then starts timing op <paramref name="op"/> (an index of <see cref="DeviceKernels.Ops"/>).
    /// </summary>
    internal DeviceOp(Device device, int op)
    {
        _device = device;
        _op = op;
        _lock = device.EnterLock();
        try
        {
            _start = device.StartTiming();
        }
        catch
        {
            _lock.Dispose();
            throw;
        }
    }

    /// <summary>Ends the op's timing and lets the next op in.</summary>
    public void Dispose()
    {
        try
        {
            _device.EndTiming(_op, _start);
        }
        finally
        {
            _lock.Dispose();
        }
    }
}
