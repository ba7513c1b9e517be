using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>Uploads test data to a device, tracks every buffer, and frees them all at the end of a test.</summary>
public sealed class DeviceScope : IDisposable
{
    private readonly List<IDisposable> _buffers = [];

    /// <summary>A scope on the shared device of <paramref name="backend"/> (see <see cref="TestBackends.Get"/>).</summary>
    public DeviceScope(string backend) : this(TestBackends.Get(backend))
    {
    }

    /// <summary>A scope on <paramref name="device"/>, which the caller owns.</summary>
    public DeviceScope(Device device) => Device = device;

    /// <summary>The device under test.</summary>
    public Device Device { get; }

    /// <summary>The device's kernels.</summary>
    public IKernels Kernels => Device.Kernels;

    /// <summary>A tensor holding a copy of <paramref name="data"/>.</summary>
    public Tensor<T> Upload<T>(T[] data) where T : unmanaged
    {
        var tensor = Device.Upload<T>(data, new Shape(data.Length));
        _buffers.Add(tensor.Buffer);
        return tensor;
    }

    /// <summary>A zero-filled tensor of <paramref name="length"/> elements.</summary>
    public Tensor<float> Zeros(int length) => Upload(new float[length]);

    /// <summary>Copies a tensor back to the host.</summary>
    public static float[] Download(Tensor<float> tensor)
    {
        tensor.Device.Synchronize();
        return tensor.ToArray();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Device.Synchronize();
        foreach (var buffer in _buffers) buffer.Dispose();
    }
}
