using IlgpuDiffusion.Compute;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>One ilgpu-cpu device shared by the kernel tests, so each kernel compiles once.</summary>
public sealed class IlgpuCpuFixture : IDisposable
{
    /// <summary>The ILGPU CPU accelerator device.</summary>
    public Device Device { get; } = Device.Create("ilgpu-cpu");

    /// <summary>Its kernels.</summary>
    public IKernels Kernels => Device.Kernels;

    /// <summary>Uploads <paramref name="data"/> as a flat tensor.</summary>
    public Tensor<float> Upload(float[] data) => Device.Upload<float>(data, new Shape(data.Length));

    /// <summary>Uploads <paramref name="data"/> as a flat int tensor.</summary>
    public Tensor<int> Upload(int[] data) => Device.Upload<int>(data, new Shape(data.Length));

    /// <inheritdoc/>
    public void Dispose() => Device.Dispose();

    /// <summary>
    /// After warm-up, a call of <paramref name="ours"/> allocates no more on this thread than <paramref name="raw"/>, the
    /// same launch made straight through ILGPU. Each is the least of three calls: the runtime now and then allocates a few
    /// bytes on the calling thread outside our code (see SteadyStateAllocation), while code that allocates does so in
    /// every call.
    /// </summary>
    public void AssertAllocatesNoMoreThan(Action raw, Action ours, string what)
    {
        for (int warm = 0; warm < 3; warm++) { ours(); raw(); Device.Synchronize(); }
        long oursBytes = long.MaxValue, rawBytes = long.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            oursBytes = Math.Min(oursBytes, AllocatedBy(ours));
            rawBytes = Math.Min(rawBytes, AllocatedBy(raw));
        }
        Assert.True(oursBytes <= rawBytes, $"{what} allocated {oursBytes} bytes; ILGPU's own launch {rawBytes}.");
    }

    /// <summary>The bytes <paramref name="launch"/> allocates on this thread, the device synchronized after.</summary>
    private long AllocatedBy(Action launch)
    {
        long start = GC.GetAllocatedBytesForCurrentThread();
        launch();
        long bytes = GC.GetAllocatedBytesForCurrentThread() - start;
        Device.Synchronize();
        return bytes;
    }
}

/// <summary>The xunit collection that shares <see cref="IlgpuCpuFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class IlgpuCpuCollection : ICollectionFixture<IlgpuCpuFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "ilgpu-cpu kernels";
}

/// <summary>Random data and tolerance checks for the kernel tests.</summary>
internal static class TestData
{
    public static float[] Random(int count, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        var data = new float[count];
        for (int i = 0; i < count; i++) data[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return data;
    }

    /// <summary>Asserts |actual − expected| ≤ tolerance·max(1, |expected|) elementwise.</summary>
    public static void Close(double[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(error <= tolerance, $"element {i}: expected {expected[i]}, got {actual[i]} (error {error:E2} > {tolerance:E0})");
        }
    }
}
