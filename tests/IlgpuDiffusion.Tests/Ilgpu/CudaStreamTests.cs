using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// A CUDA device queues its work on a stream of its own, not on the legacy default stream (which CUDA graph capture
/// refuses), and keeps kernels, staged and direct uploads, and read-backs in order on it. Skipped without a CUDA device.
/// </summary>
public sealed class CudaStreamTests
{
    [SkippableFact]
    public void Kernels_uploads_and_read_backs_stay_in_order_on_the_devices_own_stream()
    {
        Skip.If(!IlgpuRuntime.HasCuda, "No CUDA device");
        using var device = Device.Create(Backend.Cuda, MatMulPrecision.Fp32);
        var stream = Assert.IsType<CudaStream>(((IlgpuDevice)device).Stream);
        Assert.NotEqual(IntPtr.Zero, stream.StreamPtr);

        const int small = 1000, large = (PinnedUploads.MaxBytes / sizeof(float)) + 17;
        using var buffer = device.AllocateTensor<float>(new Shape(small + large));
        var (head, tail) = (buffer.Tensor.Slice(0, small), buffer.Tensor.Slice(small, large));
        float[] staged = TestData.Random(small, seed: 1), direct = TestData.Random(large, seed: 2);
        for (int round = 0; round < 3; round++)
        {
            device.Kernels.Fill(buffer.Tensor, -1f, small + large); // queued before each upload below, finished before it lands
            head.CopyFrom(staged);                                  // staged: queued behind the fill, no wait
            tail.CopyFrom(direct);                                  // direct: waits for the device, then copies
            device.Kernels.Copy(head, tail.Slice(0, small), small);  // queued behind both uploads
            float[] all = buffer.Tensor.ToArray();
            Assert.Equal(staged, all.AsSpan(0, small).ToArray());
            Assert.Equal(staged, all.AsSpan(small, small).ToArray());
            Assert.Equal(direct.AsSpan(small).ToArray(), all.AsSpan(2 * small).ToArray());
        }
    }
}
