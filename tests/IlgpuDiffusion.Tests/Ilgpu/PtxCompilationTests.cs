using System.Reflection;
using ILGPU;
using IlgpuDiffusion.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// Compiles every kernel marked [IlgpuKernel] to PTX for sm_80 and sm_90 without a GPU.
/// Kernels are discovered by reflection, and IlgpuKernels refuses to load an unmarked
/// method, so a new kernel cannot escape this test.
/// </summary>
[Collection(PtxCollection.Name)]
public sealed class PtxCompilationTests(KernelPtx compiler)
{
    public static TheoryData<string, int> Kernels()
    {
        var data = new TheoryData<string, int>();
        foreach (var (method, _) in KernelRegistry.All())
            foreach (int architecture in Architectures(method))
                data.Add(Name(method), architecture);
        return data;
    }

    /// <summary>The architectures a kernel is compiled for: sm_80 and sm_90, a Hopper-only one's sm_90 alone.</summary>
    private static int[] Architectures(MethodInfo method) =>
        method.GetCustomAttribute<IlgpuKernelAttribute>()!.Hopper ? [90] : [80, 90];

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_compiles_to_ptx(string kernel, int architecture)
    {
        var (method, grouping) = KernelRegistry.All().Single(k => Name(k.Method) == kernel);
        string ptx = compiler.Of(method, grouping, architecture);
        // PTX_DUMP=<folder> keeps the generated PTX for inspection (register use, local memory, loop bodies).
        if (Environment.GetEnvironmentVariable("PTX_DUMP") is { } dir)
            File.WriteAllText(Path.Combine(dir, $"{kernel}.sm{architecture}.ptx"), ptx);
        // ILGPU targets the lowest architecture that has the device's capabilities (sm_80 for both).
        var target = System.Text.RegularExpressions.Regex.Match(ptx, @"\.target sm_(\d+)");
        Assert.True(target.Success, "no .target line");
        Assert.InRange(int.Parse(target.Groups[1].Value), 80, architecture);
        Assert.Contains(".entry", ptx);
        // the rewrite CUDA loads it with (KernelRegistry.Rewrite) is the one its instructions need
        var rewrite = KernelRegistry.Rewrite(method);
        Assert.Equal(ptx.Contains("wgmma.", StringComparison.Ordinal), rewrite == PtxRewrite.Hopper);
        Assert.Equal(ptx.Contains("cp.async.", StringComparison.Ordinal), rewrite != PtxRewrite.None);
    }

    [Theory]
    // One kernel per pair of operand layouts, batched ones for three of the pairs; TF32 also in stages of 32 of k; BF16
    // also on BF16 copies of the operands, whose rounding is the copy's (CopyBf16), not the GEMM's, and on copies staged by
    // cp.async (in the "rounding" column: they round nothing), TF32 ones too (on TF32 copies, CopyTf32), and BF16 ones on
    // Hopper's warpgroup products (sm_90 only). TF32 rounds in integer arithmetic.
    [InlineData("Tf32(Deep)?(ABt|AB|AtB|AtBt)(Batched)?", "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", null, 11)]
    [InlineData("Bf16(ABt|AB|AtB|AtBt)(Batched)?", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", "cvt.rn.bf16x2.f32", 7)]
    [InlineData("Bf16Copies(ABt|AB|AtB|AtBt)", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", null, 4)]
    [InlineData("Bf16Pipelined(ABt|AB|AtB|AtBt)", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
        "cp.async.cg.shared.global", 4)]
    [InlineData("Tf32PipelinedABt", "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", "cp.async.cg.shared.global", 1)]
    [InlineData("Bf16Warpgroup(ABt|AB|AtB|AtBt)", "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        "cp.async.cg.shared.global", 4)]
    [InlineData("Tf32WarpgroupABt", "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32", "cp.async.cg.shared.global", 1)]
    [InlineData("CopyBf16", null, "cvt.rn.bf16x2.f32", 1)]
    [InlineData("CopyTf32", null, null, 1)]
    public void Tensor_core_GEMMs_emit_their_mma_and_rounding_instructions(string kernel, string? mma, string? rounding, int count)
    {
        var name = new System.Text.RegularExpressions.Regex($"^TensorCoreGemmKernels\\.{kernel}$");
        var kernels = KernelRegistry.All().Where(k => name.IsMatch(Name(k.Method))).ToArray();
        Assert.Equal(count, kernels.Length);
        foreach (var (method, grouping) in kernels)
            foreach (int architecture in Architectures(method))
            {
                string ptx = compiler.Of(method, grouping, architecture);
                if (mma is not null) Assert.Contains(mma, ptx);
                if (rounding is not null) Assert.Contains(rounding, ptx);
            }
    }

    [Fact]
    public void Registry_finds_the_kernels_of_every_family()
    {
        var types = KernelRegistry.All().Select(k => k.Method.DeclaringType!.Name).ToHashSet();
        foreach (var family in new[] { "Utility", "MatMul", "Column", "Embedding", "LayerNorm", "Modulation", "Activation",
                     "Dropout", "Optimizer", "Rotary", "Attention", "AttentionBackward", "Loss", "Divergence", "Row", "Sampling",
                     "TensorCoreGemm" })
            Assert.Contains(family + "Kernels", types);
        Assert.All(KernelRegistry.All(), k => Assert.True(k.Method.IsStatic && k.Method.ReturnType == typeof(void), Name(k.Method)));
    }

    [Fact]
    public void Unmarked_methods_are_refused() =>
        Assert.Throws<InvalidOperationException>(() => KernelRegistry.Checked<Action<Index1D>>(NotAKernel));

    private static void NotAKernel(Index1D index) { }

    private static string Name(MethodInfo method) => $"{method.DeclaringType!.Name}.{method.Name}";
}
