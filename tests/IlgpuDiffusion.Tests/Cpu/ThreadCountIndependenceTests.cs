using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Cpu;

/// <summary>
/// The CPU ops that add up per-chunk partial sums give the same bits on any number of threads, so a training run resumed
/// on a machine with another core count continues bit for bit.
/// </summary>
public sealed class ThreadCountIndependenceTests
{
    private static readonly int[] ThreadCounts = [1, 2, 3, 5, 8, 24];

    [Fact]
    public void Sum_of_squares_layer_norm_and_qk_norm_gradients_do_not_depend_on_the_thread_count()
    {
        using var device = Device.Create("cpu");
        var results = ThreadCounts.Select(threads => Reductions(device, new CpuKernels(new WorkerPool(threads)))).ToArray();
        for (int i = 1; i < results.Length; i++)
            Assert.True(results[0].SequenceEqual(results[i]),
                $"{ThreadCounts[i]} threads gave other sums than {ThreadCounts[0]} thread.");
    }

    /// <summary>The sum of squares, LayerNorm's dWeight and QK-norm's dWeight of fixed random inputs, one after another.</summary>
    private static float[] Reductions(Device device, CpuKernels kernels)
    {
        var random = new Random(4);
        Tensor<float> Random(int count) =>
            device.Upload<float>(Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), new Shape(count));
        const int squares = 1 << 21, rows = 8192, channels = 48, heads = 2, headDim = 16;

        var sum = device.AllocateTensor<float>(new Shape(1));
        kernels.SumOfSquares(Random(squares), sum, squares);

        Tensor<float> input = Random(rows * channels), weight = Random(channels), dOutput = Random(rows * channels);
        var output = device.AllocateTensor<float>(new Shape(rows * channels));
        var mean = device.AllocateTensor<float>(new Shape(rows));
        var rstd = device.AllocateTensor<float>(new Shape(rows));
        var dInput = device.AllocateTensor<float>(new Shape(rows * channels));
        var dWeight = device.AllocateTensor<float>(new Shape(channels));
        kernels.LayerNormForward(input, weight, output, mean, rstd, rows, channels, 1e-5f);
        kernels.LayerNormBackward(dOutput, input, weight, mean, rstd, dInput, dWeight, rows, channels);

        Tensor<float> qkv = Random(rows * 3 * heads * headDim), qkWeight = Random(2 * headDim);
        Tensor<float> dQkv = Random(rows * 3 * heads * headDim);
        var normalized = device.AllocateTensor<float>(new Shape(2 * rows * heads * headDim));
        var qkRstd = device.AllocateTensor<float>(new Shape(2 * rows * heads));
        var dQkWeight = device.AllocateTensor<float>(new Shape(2 * headDim));
        kernels.QkNormForward(qkv, qkWeight, normalized, qkRstd, rows, heads, headDim, 1e-5f);
        kernels.QkNormBackward(dQkv, qkWeight, normalized, qkRstd, dQkWeight, rows, heads, headDim);

        return [.. sum.ToArray(), .. dWeight.ToArray(), .. dQkWeight.ToArray()];
    }
}
