using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The rewrite of ILGPU's inline-PTX operand slots into registers (<see cref="PtxLocalSlots"/>), on PTX written as ILGPU
/// writes it and on a kernel ILGPU compiled, and the kernel built from the rewritten PTX (<see cref="PtxKernels"/>).
/// Whether ptxas then keeps the slots out of memory is the SASS tests' (TensorCoreSassTests).
/// </summary>
public sealed class PtxLocalSlotsTests
{
    private const string Header = """
        .visible .entry Kernel_Probe(
        	.param .b32 _n
        )
        {

        """;

    [Fact]
    public void Each_slot_becomes_a_register_and_its_stores_and_loads_moves()
    {
        string ptx = Header + """
            	.local .align 4 .b8 __local_depot0[4];
            	.local .align 8 .b8 __local_depot11[8];
            	.reg .pred	%p<2>;
            	.reg .b32	%r<4>;
            	.reg .b64	%rd<14>;
            	mov.b64	%rd4, __local_depot0;
            	mov.b64	%rd13, __local_depot11;
            	st.local.f32	[%rd4], 0f3F800000;
            	@%p1 st.local.b32	[%rd4], %r1;
            	ld.local.b32	%r2, [%rd4];
            	add.s64	%rd1, %rd13, 0;
            	ld.local.u64	%rd2, [%rd1];
            	st.local.u64	[%rd13], %rd3;
            	ld.local.u64	%rd2, [%rd13];
            	ret;
            }
            """;

        // %rd1 only copies %rd13 here, which the rewrite does not follow: it refuses rather than guess.
        var refused = Assert.Throws<InvalidOperationException>(() => PtxLocalSlots.ToRegisters(ptx));
        Assert.Contains("add.s64", refused.Message, StringComparison.Ordinal);

        string direct = ptx.Replace("\tadd.s64\t%rd1, %rd13, 0;\n\tld.local.u64\t%rd2, [%rd1];\n", "", StringComparison.Ordinal);
        Assert.Equal(Header + """
            	.reg .b32 %lslot0;
            	.reg .b64 %lslot11;
            	.reg .pred	%p<2>;
            	.reg .b32	%r<4>;
            	.reg .b64	%rd<14>;


            	mov.b32	%lslot0, 0x3F800000;
            	@%p1 mov.b32	%lslot0, %r1;
            	mov.b32	%r2, %lslot0;
            	mov.b64	%lslot11, %rd3;
            	mov.b64	%rd2, %lslot11;
            	ret;
            }
            """, PtxLocalSlots.ToRegisters(direct));
    }

    [Fact]
    public void A_module_without_slots_is_left_as_it_is()
    {
        string ptx = Header + "\t.reg .b32\t%r<2>;\n\tmov.b32\t%r1, 0;\n\tret;\n}";
        Assert.Same(ptx, PtxLocalSlots.ToRegisters(ptx));
    }

    [Theory]
    [InlineData("\t.local .align 4 .b8 __local_depot0[16];\n\tret;", "16 bytes")]
    [InlineData("\t.local .align 4 .b8 __local_depot0[4];\n\tmov.b64\t%rd1, __local_depot0;\n\tst.local.u8\t[%rd1], %rs1;", "8 bits")]
    [InlineData("\t.local .align 4 .b8 __local_depot0[4];\n\tmov.b64\t%rd1, __local_depot0;\n\tmov.b64\t%rd1, __local_depot0;",
        "twice")]
    [InlineData("\t.local .align 4 .b8 __local_depot0[4];\n\tmov.b64\t%rd1, __local_depot0;\n\tld.local.v2.b32\t{%r1, %r2}, [%rd1];",
        "does not know")]
    [InlineData("\t.local .align 4 .b8 __local_depot0[4];\n\tmov.b64\t%rd1, __local_depot0;\n\tst.local.b32\t[%rd2], %r1;",
        "holds no slot")]
    public void Slots_used_otherwise_are_refused(string body, string reason)
    {
        var refused = Assert.Throws<InvalidOperationException>(() => PtxLocalSlots.ToRegisters(Header + body + "\n}"));
        Assert.Contains(reason, refused.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A pipelined GEMM as CUDA loads it: ILGPU's PTX with every slot a register (no local memory left), its cp.async kept,
    /// built into a compiled kernel of the same entry point (the internal members <see cref="PtxKernels"/> reaches
    /// exist in this version of ILGPU); a GEMM on warpgroup products retargeted to sm_90a at PTX ISA 8.0, where the other
    /// keeps ILGPU's target and ISA.
    /// </summary>
    [Theory]
    [InlineData(nameof(TensorCoreGemmKernels.Bf16PipelinedABt), false, "mma.sync.aligned.m16n8k16")]
    [InlineData(nameof(TensorCoreGemmKernels.Bf16WarpgroupABt), true, "wgmma.mma_async.sync.aligned.m64n128k16")]
    public void A_pipelined_GEMM_compiles_to_a_kernel_of_rewritten_PTX(string name, bool hopper, string product)
    {
        using var context = IlgpuRuntime.CreateIsolated();
        var architecture = CudaArchitecture.SM_90;
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, CudaInstructionSet.ISA_78,
            nvvmAPI: null);
        var method = typeof(TensorCoreGemmKernels).GetMethod(name)!;

        var rewrite = KernelRegistry.Rewrite(method);
        var kernel = PtxKernels.Compile(backend, KernelRegistry.EntryOf(method), KernelSpecialization.Empty, rewrite);

        Assert.Equal(hopper ? PtxRewrite.Hopper : PtxRewrite.SlotsInRegisters, rewrite);

        Assert.Equal(method, kernel.SourceMethod);
        Assert.Equal(method.GetParameters().Length, kernel.NumParameters);
        Assert.Contains("cp.async.cg.shared.global", kernel.PTXAssembly, StringComparison.Ordinal);
        Assert.Contains(product, kernel.PTXAssembly, StringComparison.Ordinal);
        Assert.Contains("%lslot", kernel.PTXAssembly, StringComparison.Ordinal);
        Assert.DoesNotContain(".local", kernel.PTXAssembly, StringComparison.Ordinal);
        Assert.DoesNotContain("__local_depot", kernel.PTXAssembly, StringComparison.Ordinal);
        Assert.Contains(hopper ? ".target sm_90a" : ".target sm_80", kernel.PTXAssembly, StringComparison.Ordinal);
        Assert.Contains(hopper ? ".version 8.0" : ".version 7.8", kernel.PTXAssembly, StringComparison.Ordinal);
    }
}
