using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Compute;

public sealed class OwnedTensorTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Disposing_an_uploaded_tensor_frees_its_buffer(string backend)
    {
        using Device device = Device.Create(backend);
        using (var uploaded = device.Upload<float>([1f, 2f, 3f, 4f, 5f, 6f], new Shape(2, 3)))
        {
            using var zeros = device.AllocateTensor<int>(new Shape(4));
            Assert.Equal(2, device.LiveBuffers);
            Tensor<float> view = uploaded; // the view that ops take
            Assert.Equal([4f, 5f, 6f], view.Slice(1, 1).ToArray());
            Assert.Equal(new int[4], zeros.ToArray());
        }
        Assert.Equal(0, device.LiveBuffers);
    }

    [Fact]
    public void Disposing_twice_counts_the_buffer_once()
    {
        using Device device = Device.Create("cpu");
        var tensor = device.AllocateTensor<float>(new Shape(3));
        tensor.Dispose();
        tensor.Dispose();
        Assert.Equal(0, device.LiveBuffers);
    }

    [Fact]
    public void Disposing_an_ilgpu_device_frees_the_buffers_still_alive()
    {
        var device = Device.Create("ilgpu-cpu");
        var forgotten = device.Upload<float>([1f, 2f], new Shape(2));
        var memory = ((IlgpuBuffer<float>)forgotten.Buffer).Memory;
        device.Dispose();
        Assert.True(memory.IsDisposed);
        Assert.Equal(0, device.LiveBuffers);
        forgotten.Dispose(); // the owner disposed after its device: nothing left to free
    }
}
