using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion;

/// <summary>The device a loaded language model runs on: the caller's, or one opened for the model and owned by it.</summary>
internal static class DeviceOwnership
{
    /// <summary>
    /// Runs <paramref name="build"/> on <paramref name="device"/>, or, when that is null, on the best device present, opened
    /// here and passed as the second argument for the model to own; that device is disposed if building fails.
    /// </summary>
    public static T Build<T>(Device? device, Func<Device, Device?, T> build)
    {
        Device? owned = device is null ? Device.Create() : null;
        try
        {
            return build(device ?? owned!, owned);
        }
        catch
        {
            owned?.Dispose();
            throw;
        }
    }
}
