using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The ILGPU attention kernels at the edges of their tiling on the CPU emulator (4×4 tiles): sequences of
/// exactly one and two tiles, one past, the largest head size; bit-for-bit repeatable backward; the
/// shared-memory tiles chosen for CUDA head sizes. The conformance suite covers general shapes.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class AttentionTilingTests(IlgpuCpuFixture fixture)
{
    [Theory]
    [InlineData(4, 4, false)]
    [InlineData(8, 4, true)]
    [InlineData(9, 6, true)]
    [InlineData(3, 128, false)]
    [InlineData(5, 128, true)]
    public void Forward_and_backward_match_the_reference_at_tile_edges(int tokens, int headDim, bool causal)
    {
        const int batch = 1, heads = 2;
        var qkv = TestData.Random(batch * tokens * 3 * heads * headDim, 1, 2f);
        var dy = TestData.Random(batch * tokens * heads * headDim, 2);
        var (output, lse, dQkv) = Run(qkv, dy, batch, tokens, heads, headDim, causal);
        var expected = ReferenceAttention.Forward(Array.ConvertAll(qkv, v => (double)v), batch, tokens, heads, headDim, causal);
        TestData.Close(expected.Output, output, 1e-4);
        TestData.Close(expected.LogSumExp, lse, 1e-5);
        var gradient = ReferenceAttention.Backward(Array.ConvertAll(dy, v => (double)v), Array.ConvertAll(qkv, v => (double)v),
            batch, tokens, heads, headDim, causal);
        TestData.Close(gradient, dQkv, 2e-4);
    }

    /// <summary>Every gradient element has one owner thread and a fixed summation order: no run-to-run noise.</summary>
    [Fact]
    public void Backward_repeats_bit_for_bit()
    {
        const int batch = 2, tokens = 11, heads = 2, headDim = 8;
        var qkv = TestData.Random(batch * tokens * 3 * heads * headDim, 3, 2f);
        var dy = TestData.Random(batch * tokens * heads * headDim, 4);
        var first = Run(qkv, dy, batch, tokens, heads, headDim, causal: true);
        var second = Run(qkv, dy, batch, tokens, heads, headDim, causal: true);
        Assert.Equal(first.Output, second.Output);
        Assert.Equal(first.DQkv, second.DQkv);
    }

    [Fact]
    public void Head_sizes_above_128_are_rejected_before_launch()
    {
        const int headDim = 130;
        var (qkv, output, lse) = (fixture.Upload(new float[3 * headDim]), fixture.Upload(new float[headDim]), fixture.Upload(new float[1]));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Kernels.AttentionForward(qkv, output, lse, 1, 1, 1,
            headDim, false));
        Assert.Contains("128", error.Message);
    }

    /// <summary>A steady-state call adds nothing to ILGPU's own launch (shape checks, tiles and arguments allocate nothing).</summary>
    [Fact]
    public void Forward_allocates_no_more_than_ilgpus_own_launch()
    {
        const int tokens = 5, headDim = 4, row = 3 * headDim;
        var qkv = fixture.Upload(TestData.Random(tokens * row, 5));
        var (output, lse) = (fixture.Upload(new float[tokens * headDim]), fixture.Upload(new float[tokens]));
        var accelerator = ((IlgpuDevice)fixture.Device).Accelerator;
        var raw = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            AttentionArguments>(AttentionKernels.Forward);
        var plan = new LaunchPlan(accelerator);
        var tiles = plan.Attention(AttentionPass.Forward, headDim, tokens);
        var arguments = new AttentionArguments(1, headDim, tokens, tokens, 0, 1, 0.5f, tokens * row, row, tokens * row, headDim, row,
            tiles.TileQ, tiles.TileK, WriteLogSumExp: 1, AccumulateGradients: 1);
        var view = qkv.View();
        void Ours() => fixture.Kernels.AttentionForward(qkv, output, lse, 1, tokens, 1, headDim, causal: true);
        void Raw() => raw(tiles.Config(LaunchPlan.Ceil(tokens, tiles.TileQ), 1, plan.AttentionGroup),
            view, view.SubView(headDim, view.Length - headDim), view.SubView(2 * headDim, view.Length - 2 * headDim), output.View(),
            lse.View(), arguments);
        fixture.AssertAllocatesNoMoreThan(Raw, Ours, "AttentionForward");
    }

    [Theory]
    [InlineData(AcceleratorType.Cuda, 32, 1024)]
    [InlineData(AcceleratorType.OpenCL, 16, 256)]
    public void Gpu_tiles_fit_48_kb_of_shared_memory(AcceleratorType type, int warp, int maxGroup)
    {
        var plan = new LaunchPlan(type, warp, maxGroup);
        Assert.InRange(plan.AttentionGroup, 64, maxGroup);
        foreach (var pass in Enum.GetValues<AttentionPass>())
            foreach (int headDim in new[] { 8, 32, 64, 72, 96, 128 })
            {
                var tiles = plan.Attention(pass, headDim, queries: 1024);
                Assert.InRange(tiles.SharedFloats * sizeof(float), 1, LaunchPlan.MaxSharedBytes);
                Assert.Equal(tiles.SharedFloats, AttentionTiles.Floats(pass, tiles.TileQ, tiles.TileK, headDim));
                int owned = pass == AttentionPass.KeyValue ? tiles.TileK : tiles.TileQ;
                Assert.True(owned >= 16 && Math.Min(tiles.TileQ, tiles.TileK) >= 8,
                    $"{pass} d{headDim}: {tiles.TileQ}×{tiles.TileK} tiles");
                Assert.Equal(0, tiles.TileQ & (tiles.TileQ - 1));
                Assert.Equal(0, tiles.TileK & (tiles.TileK - 1));
                // As large as fits: doubling either tile would overflow.
                Assert.True(tiles.TileQ == plan.AttentionMaxTile
                    || Bytes(pass, 2 * tiles.TileQ, tiles.TileK, headDim) > LaunchPlan.MaxSharedBytes);
                Assert.True(tiles.TileK == plan.AttentionMaxTile
                    || Bytes(pass, tiles.TileQ, 2 * tiles.TileK, headDim) > LaunchPlan.MaxSharedBytes);
            }
        var model = plan.Attention(AttentionPass.Forward, 64, queries: 1024);
        Assert.Equal((64, 16), (model.TileQ, model.TileK));
        var decode = plan.Attention(AttentionPass.Forward, 64, queries: 1);
        Assert.Equal((1, 64), (decode.TileQ, decode.TileK));
    }

    private static int Bytes(AttentionPass pass, int tileQ, int tileK, int headDim) =>
        AttentionTiles.Floats(pass, tileQ, tileK, headDim) * sizeof(float);

    private (float[] Output, float[] LogSumExp, float[] DQkv) Run(float[] qkv, float[] dy, int batch, int tokens, int heads,
        int headDim, bool causal)
    {
        var qkvT = fixture.Upload(qkv);
        var (output, lse, dQkv) = (fixture.Upload(new float[dy.Length]), fixture.Upload(new float[batch * heads * tokens]),
            fixture.Upload(new float[qkv.Length]));
        fixture.Kernels.AttentionForward(qkvT, output, lse, batch, tokens, heads, headDim, causal);
        fixture.Kernels.AttentionBackward(fixture.Upload(dy), qkvT, output, lse, dQkv, batch, tokens, heads, headDim, causal);
        return (output.ToArray(), lse.ToArray(), dQkv.ToArray());
    }
}
