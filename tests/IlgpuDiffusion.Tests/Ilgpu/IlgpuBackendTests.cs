using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>Properties of the ILGPU backend itself: launch shapes, bitwise-repeatable reductions, empty views.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class IlgpuBackendTests(IlgpuCpuFixture fixture)
{
    private Accelerator Accelerator => ((IlgpuDevice)fixture.Device).Accelerator;

    [Fact]
    public void Launch_plan_fits_the_emulator()
    {
        var plan = new LaunchPlan(Accelerator);
        CheckPlan(plan, Accelerator.MaxNumThreadsPerGroup);
        Assert.True(plan.WarpRowSums && plan.NormLanes == Accelerator.WarpSize && plan.NormVectors > 1,
            "normalization groups should hold several warp-wide vectors in tests");
        Assert.True(plan.GemmX * plan.GemmY > Accelerator.WarpSize, "GEMM groups should span several warps in tests");
    }

    [Theory]
    [InlineData(AcceleratorType.Cuda, 32, 1024)]
    [InlineData(AcceleratorType.OpenCL, 32, 256)]
    [InlineData(AcceleratorType.OpenCL, 16, 128)]
    public void Launch_plan_fits_gpus(AcceleratorType type, int warp, int maxGroup)
    {
        var plan = new LaunchPlan(type, warp, maxGroup);
        CheckPlan(plan, maxGroup);
        Assert.InRange(MatMulKernels.SharedFloats(plan.GemmX, plan.GemmY, plan.GemmTileK) * sizeof(float), 1, 48 * 1024);
        if (maxGroup >= 256) Assert.Equal((64, 64), (4 * plan.GemmY, 4 * plan.GemmX));
        // a warp of lanes per normalized vector where warps shuffle (CUDA), rows of 32 summing in shared memory elsewhere
        Assert.Equal(type == AcceleratorType.Cuda, plan.WarpRowSums);
        Assert.Equal(type == AcceleratorType.Cuda ? warp : Math.Min(32, plan.RowGroup), plan.NormLanes);
    }

    private static void CheckPlan(LaunchPlan plan, int max)
    {
        Assert.InRange(plan.GemmX * plan.GemmY, 2, max);
        Assert.InRange(plan.RowGroup, 2, max);
        Assert.Equal(plan.RowGroup, plan.NormLanes * plan.NormVectors);
        Assert.InRange(plan.ColumnX * plan.ColumnY, 2, max);
        Assert.Equal(0, plan.RowGroup & (plan.RowGroup - 1));
        Assert.Equal(0, plan.ColumnY & (plan.ColumnY - 1));
        Assert.Equal(4 * plan.GemmY, 1 << plan.GemmTileMShift);
        Assert.Equal(4 * plan.GemmX, 1 << plan.GemmTileNShift);
        Assert.Equal(plan.GemmTileK, 1 << plan.GemmTileKShift);
    }

    /// <summary>23 tokens span six 4-token chunks on the emulator: pass 1 partials, then pass 2.</summary>
    [Fact]
    public void Chunked_token_reductions_match_the_host_and_repeat_bit_for_bit()
    {
        const int batch = 2, tokens = 23, channels = 6, rows = batch * tokens, n = rows * channels;
        float[] dy = TestData.Random(n, 1), x = TestData.Random(n, 2), gate = TestData.Random(batch * channels, 3);
        var (dyT, xT, gateT) = (fixture.Upload(dy), fixture.Upload(x), fixture.Upload(gate));
        var weight = fixture.Upload(TestData.Random(channels * channels, 4));
        var lnWeight = fixture.Upload(TestData.Random(channels, 5));
        var (mean, rstd) = (fixture.Upload(new float[rows]), fixture.Upload(new float[rows]));
        fixture.Kernels.LayerNormForward(xT, lnWeight, fixture.Upload(new float[n]), mean, rstd, rows, channels, 1e-5f);
        float[] m = mean.ToArray(), r = rstd.ToArray();

        var expected = new double[batch * channels + 2 * channels];
        for (int row = 0; row < rows; row++)
            for (int c = 0; c < channels; c++)
            {
                int i = row * channels + c;
                expected[row / tokens * channels + c] += (double)dy[i] * x[i];                  // dGate
                expected[batch * channels + c] += dy[i];                                         // dBias
                expected[batch * channels + channels + c] += (double)dy[i] * (x[i] - m[row]) * r[row]; // LayerNorm dWeight
            }

        float[] Run()
        {
            var (dGate, dBias, dWeight) = (fixture.Upload(new float[batch * channels]), fixture.Upload(new float[channels]),
                fixture.Upload(new float[channels]));
            fixture.Kernels.GatedResidualBackward(dyT, xT, gateT, fixture.Upload(new float[n]), dGate, batch, tokens, channels);
            fixture.Kernels.LinearBackward(dyT, xT, weight, null, null, dBias, rows, channels, channels);
            fixture.Kernels.LayerNormBackward(dyT, xT, lnWeight, mean, rstd, fixture.Upload(new float[n]), dWeight, rows, channels);
            return [.. dGate.ToArray(), .. dBias.ToArray(), .. dWeight.ToArray()];
        }
        var first = Run();
        TestData.Close(expected, first, 1e-5);
        Assert.Equal(first, Run());
    }

    /// <summary>
    /// Without atomics, each id's rows are summed in row order in chunks of <see cref="EmbeddingKernels.ChunkRows"/>, then
    /// the chunks in order: the float result is exactly the host's sum in that order, every time.
    /// </summary>
    [Fact]
    public void Embedding_backward_adds_repeated_ids_in_chunks_in_row_order_bit_for_bit()
    {
        const int vocab = 6, channels = 3, rows = 300;
        var ids = Enumerable.Range(0, rows).Select(r => r % 5 == 0 ? r % 3 : 4).ToArray(); // id 4 dominates, like a mask token
        float[] dy = TestData.Random(rows * channels, 1, 100f), prior = TestData.Random(vocab * channels, 2);
        var expected = (float[])prior.Clone();
        for (int id = 0; id < vocab; id++)
            for (int c = 0; c < channels; c++)
            {
                var rowsOfId = Enumerable.Range(0, rows).Where(r => ids[r] == id).ToArray();
                float sum = 0f;
                foreach (var chunk in rowsOfId.Chunk(EmbeddingKernels.ChunkRows))
                {
                    float partial = 0f;
                    foreach (int r in chunk) partial += dy[r * channels + c];
                    sum += partial;
                }
                if (rowsOfId.Length > 0) expected[id * channels + c] += sum;
            }

        float[] Run()
        {
            var dTable = fixture.Upload(prior);
            fixture.Kernels.EmbeddingBackward(fixture.Upload(ids), fixture.Upload(dy), dTable, rows, vocab, channels);
            return dTable.ToArray();
        }
        Assert.Equal(expected, Run());
        Assert.Equal(expected, Run());
    }

    [Fact]
    public void Empty_tensors_at_the_end_of_a_buffer_are_accepted()
    {
        var buffer = fixture.Device.Allocate<float>(4);
        var empty = new Tensor<float>(buffer, 4, new Shape(0));
        fixture.Kernels.Fill(empty, 1f, 0);
        var result = fixture.Upload(new float[] { float.NaN });
        fixture.Kernels.SumOfSquares(empty, result, 0);
        Assert.Equal(0f, result.ToArray()[0]);
    }

    /// <summary>A call through IlgpuKernels allocates no more than ILGPU's own launch of the same kernel.</summary>
    [Fact]
    public void Launches_allocate_no_more_than_ilgpus_own()
    {
        var c = fixture.Upload(new float[64]);
        var (a, b) = (fixture.Upload(TestData.Random(64, 1)), fixture.Upload(TestData.Random(64, 2)));
        var stream = ((IlgpuDevice)fixture.Device).Stream;
        var fill = Accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, float>(UtilityKernels.Fill);
        var gemm = Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            GemmArguments>(MatMulKernels.Gemm);
        var plan = new LaunchPlan(Accelerator);
        var arguments = new GemmArguments(8, 8, 8, 8, 1, 8, 1, plan.GemmTileMShift, plan.GemmTileNShift, plan.GemmTileKShift, 1, 0);
        void Ours()
        {
            fixture.Kernels.Fill(c, 1f, 64);
            fixture.Kernels.MatMul(MatMulLayout.AB, a, b, c, 8, 8, 8, accumulate: true);
        }
        void Raw()
        {
            fill(stream, 64, c.View(), 1f);
            gemm(stream, plan.Gemm(8, 8), a.View(), b.View(), c.View(), c.View(), arguments);
        }
        fixture.AssertAllocatesNoMoreThan(Raw, Ours, "IlgpuKernels (two launches)");
    }

    /// <summary>
    /// Every launcher the backend keeps takes the stream as its first argument, so no kernel goes to the accelerator's
    /// default stream (ILGPU's <c>Load…StreamKernel</c> launchers, which take none, queue there); the device's stream is
    /// its own.
    /// </summary>
    [Fact]
    public void Every_kernel_launcher_queues_on_the_devices_own_stream()
    {
        var device = (IlgpuDevice)fixture.Device;
        Assert.NotSame(device.Accelerator.DefaultStream, device.Stream);
        var launchers = new[] { typeof(IlgpuKernels), typeof(TensorCoreGemm) }
            .SelectMany(type => type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic))
            .Select(field => (field.Name, Type: field.FieldType.IsArray ? field.FieldType.GetElementType()! : field.FieldType))
            .Where(field => typeof(Delegate).IsAssignableFrom(field.Type))
            .ToList();
        Assert.True(launchers.Count >= 45, $"found only {launchers.Count} launcher fields"); // 49 today: the reflection found them
        Assert.All(launchers, launcher => Assert.True(launcher.Type.GetGenericArguments()[0] == typeof(AcceleratorStream),
            $"{launcher.Name} launches without a stream ({launcher.Type.Name})"));
    }
}
