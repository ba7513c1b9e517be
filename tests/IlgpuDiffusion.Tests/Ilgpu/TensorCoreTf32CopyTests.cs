using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The TF32 GEMMs on TF32 copies of their operands, staged through cp.async (TensorCoreGemmKernels.Pipelined.cs, and on
/// Hopper's warpgroup products, TensorCoreGemmKernels.Warpgroup.cs), on ILGPU's CPU accelerator with warps of 32: the copies
/// (TensorCoreGemmKernels.Tf32Copies.cs) hold what the kernels on fp32 operands stage, k-contiguous (line-contiguous operands
/// transposed), so the results are theirs bit for bit. The theories of every kernel (TensorCoreGemmTests) run them too.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class TensorCoreTf32CopyTests
{
    private readonly TensorCoreGemmTests.Emulator _emulator;

    public TensorCoreTf32CopyTests(TensorCoreGemmTests.Emulator emulator) => _emulator = emulator;

    /// <summary>
    /// TF32 products on copies staged through cp.async give the kernels' results on fp32 operands bit for bit, in stages of
    /// 16 of k and of 32 (<paramref name="deep"/>): the copy rounds as those kernels' staging does, and the fragments hold
    /// the same values whatever the stage's layout (a line-contiguous operand's copy is transposed, so its stage is
    /// k-contiguous where theirs runs along the lines), so the same products are summed in the same order. Edges in every
    /// dimension, k of no multiple of 4 (37), split-K, bias and accumulation, the adaLN row, and k loops shorter and longer
    /// than the ring. On warpgroup products (<paramref name="warpgroup"/>, emulated: each accumulator sums its products over
    /// a tile's k in order) the same words reach core matrices instead.
    /// </summary>
    [Theory]
    [InlineData("ABt", 130, 70, 37, 1, false, true, false)]
    [InlineData("AB", 67, 129, 37, 1, true, false, false)]
    [InlineData("AtB", 45, 33, 70, 1, true, true, false)]
    [InlineData("AtB", 131, 130, 20, 1, false, false, false)]
    [InlineData("AtB", 40, 24, 1000, 16, false, true, false)]
    [InlineData("ABt", 136, 132, 300, 1, true, false, false)]
    [InlineData("AB", 1, 96, 700, 16, true, true, false)]
    [InlineData("ABt", 130, 70, 37, 1, false, true, true)]
    [InlineData("AB", 67, 129, 37, 1, true, false, true)]
    [InlineData("AtB", 40, 24, 1000, 16, false, true, true)]
    public void Tf32_copies_staged_by_cp_async_give_the_direct_kernels_results_bit_for_bit(string layout, int m, int n, int k,
        int multiprocessors, bool accumulate, bool deep, bool warpgroup)
    {
        var copies = (IlgpuDevice)_emulator.Get(MatMulPrecision.Tf32, multiprocessors, copiesFrom: 1, pipelinedCopies: !warpgroup,
            warpgroup: warpgroup);
        Assert.Equal(1, copies.CopiesFrom);
        Assert.Equal(warpgroup, copies.WarpgroupProducts);
        TensorCoreGemmTests.AssertSameProducts(Enum.Parse<MatMulLayout>(layout), m, n, k, accumulate,
            _emulator.Get(MatMulPrecision.Tf32, multiprocessors, deepTf32: deep), copies);
    }
}
