using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The machine code of the tensor-core GEMMs, where NVIDIA's assembler is at hand (the environment variables PTXAS and
/// CUOBJDUMP name ptxas and cuobjdump; .ci/run fetches them from Debian's nvidia-cuda-toolkit package, a GPU machine has
/// them): every kernel (one per pair of operand layouts; TF32 in stages of 32 of k, its kernels of 16 being a fallback for
/// GPUs that refuse the deep ones' 80 KB) assembles for sm_80 and sm_90 with no stack frame (ILGPU passes
/// inline-PTX operands through local-memory slots, which ptxas must fold into registers; cp.async, for one, stops it),
/// uses HMMA, the tensor-core instruction, loads aligned operands 16 bytes at a time (LDG.E.128), and keeps its k loop
/// lean: at most <see cref="MaxInstructionsPer1024Mac"/> instructions (TF32, BF16) in the loop's machine code per 1,024
/// multiply-adds of its HMMAs (one TF32 m16n8k8, half a BF16 m16n8k16), counting every path of which a tile takes one
/// (16-byte loads, loads per element for misaligned operands, bounds-checked loads at the edges, TF32 rounding with its
/// NaN test), and at most <see cref="MaxFastPathPer1024Mac"/> on the shortest path through the loop, the one a whole tile
/// of aligned numbers takes. A BF16 stage covers 32 of k, twice a TF32 one, so its loop's fixed cost is spread over twice
/// the products. Fragments come from shared memory through ldmatrix (LDSM: one per A fragment or pair of B fragments)
/// wherever the operand's layout allows it, so the loop holds exactly the LDSMs its stage's products need. The next tile's
/// global loads stay in flight through the products: on the shortest path nothing reads what they bring before the first
/// HMMA (<see cref="SassLoop.GlobalLoadWaits"/>; ptxas had the TF32 rounding and the BF16 packing of those loads ahead of
/// the products, so that every tile waited out a global-memory latency before multiplying). The first
/// version, which computed every element's place from the thread index, had 89 (TF32) and 46 (BF16) in its loop, and
/// ran at a sixth and a twelfth of cuBLAS's rates on an H200.
/// Skipped, with the reason, where the tools are absent. Each test writes its loop's counts to the test output. The PTX is
/// the PTX tests' (<see cref="KernelPtx"/>), for the architecture the kernel is assembled for.
/// </summary>
[Collection(PtxCollection.Name)]
public sealed class TensorCoreSassTests(KernelPtx compiler, ITestOutputHelper output)
{
    private static readonly (int Tf32, int Bf16) MaxInstructionsPer1024Mac = (19, 12);

    // With the launch bounds of sm_90 (128 registers a thread) the shortest paths are at most 347 instructions per 64 HMMA
    // (Tf32DeepAB; 368 for sm_80's Tf32DeepAtB) and 148 per 32 (Bf16AB), since the k loop carries its fragments' shared
    // addresses from tile to tile: ptxas had recomputed them from the thread index in every tile (Tf32DeepAB 361,
    // Bf16AB 164 then).
    private static readonly (double Tf32, double Bf16) MaxFastPathPer1024Mac = (6.5, 2.5);

    private const int MaxWarpgroupFastPath = 130, MaxWarpgroupLoop = 270;

    // ldmatrix: the LDSMs per stage. TF32: two k-steps of 4 A fragments (k-contiguous op(a)) and 2 B pairs (k-contiguous
    // op(b)); line-contiguous operands load word by word. BF16: two k-steps, both operands by ldmatrix.
    [SkippableTheory]
    // TF32 in stages of 32 of k (the kernels of 16, a fallback for GPUs that refuse 80 KB, compile to PTX and run in the
    // emulated tests; their loops held 553 / 541 / 575 / 608 instructions, shortest paths 178 / 179 / 202 / 219 per 32 HMMA).
    [InlineData("Tf32DeepABt", "HMMA.1688.F32.TF32", 90, 24)]
    [InlineData("Tf32DeepAB", "HMMA.1688.F32.TF32", 90, 16)]
    [InlineData("Tf32DeepAtB", "HMMA.1688.F32.TF32", 80, 0)]
    [InlineData("Tf32DeepAtBt", "HMMA.1688.F32.TF32", 80, 8)]
    [InlineData("Bf16ABt", "HMMA.16816.F32.BF16", 90, 12)]
    [InlineData("Bf16AB", "HMMA.16816.F32.BF16", 90, 12)]
    [InlineData("Bf16AtB", "HMMA.16816.F32.BF16", 80, 12)]
    [InlineData("Bf16AtBt", "HMMA.16816.F32.BF16", 80, 12)]
    // BF16 on BF16 copies of the operands: a group of eight is one 16-byte load and one 16-byte store, nothing to pack, and
    // a group at an edge is loaded or not, so the cold paths are short too (loops of 151–154 instructions where the BF16
    // kernels on fp32 have 544–663, shortest paths 103–105 where they have 130–148).
    [InlineData("Bf16CopiesABt", "HMMA.16816.F32.BF16", 90, 12, 3, 1.8)]
    [InlineData("Bf16CopiesAB", "HMMA.16816.F32.BF16", 90, 12, 3, 1.8)]
    [InlineData("Bf16CopiesAtB", "HMMA.16816.F32.BF16", 80, 12, 3, 1.8)]
    [InlineData("Bf16CopiesAtBt", "HMMA.16816.F32.BF16", 80, 12, 3, 1.8)]
    // The batched kernels of attention over materialized scores: their cold paths (edge and misaligned tiles) are a little
    // longer (Tf32ABtBatched's loop 617 instructions against Tf32ABt's 553, the shortest path 182 against 178).
    [InlineData("Tf32ABtBatched", "HMMA.1688.F32.TF32", 90, 12, 20)]
    [InlineData("Bf16AtBBatched", "HMMA.16816.F32.BF16", 90, 12)]
    public void Tensor_core_GEMMs_assemble_to_a_lean_HMMA_loop_without_local_memory(string kernel, string instruction, int sm,
        int ldmatrix, int? maxLoopPer1024Mac = null, double? maxFastPathPer1024Mac = null)
    {
        var (ptxas, cuobjdump) = Tools();

        string folder = Path.Combine(Path.GetTempPath(), $"ilgpudiffusion-sass-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string ptxPath = Path.Combine(folder, $"{kernel}.ptx"), cubin = Path.Combine(folder, $"{kernel}.cubin");
            File.WriteAllText(ptxPath, compiler.Of(typeof(TensorCoreGemmKernels), kernel, sm));
            string report = Run(ptxas, $"-arch=sm_{sm} -v \"{ptxPath}\" -o \"{cubin}\"");
            Assert.Contains("0 bytes stack frame", report);
            string sass = Run(cuobjdump, $"-sass \"{cubin}\"");
            Assert.Contains(instruction, sass);
            Assert.Contains("LDG.E.128", sass);
            Assert.DoesNotContain("LDL", sass);
            Assert.DoesNotContain("STL", sass);
            var loop = SassLoop.Hottest(sass);
            var (instructions, fastPath, mmas, matrixLoads) = (loop.Instructions, loop.FastPath.Count, loop.Mmas, loop.MatrixLoads);
            WriteCounts(kernel, sm, report, TensorCoreGemmKernels.Threads, loop);
            // The next tile's loads stay in flight through this tile's products (their rounding or packing comes after).
            var (waits, firstMma) = loop.GlobalLoadWaits();
            Assert.True(waits.Count > 0 && firstMma >= 0 && waits[0] > firstMma,
                $"{kernel}: the k loop's shortest path reads what its global loads bring at {string.Join(", ", waits)}, its first " +
                $"HMMA at {firstMma}: a tile that waits for the next one's loads before its products");
            var bounds = KernelRegistry.Specialization(typeof(TensorCoreGemmKernels).GetMethod(kernel)!);
            if (bounds.MinNumGroupsPerMultiprocessor is { } blocks && sm >= 10 * TensorCoreGemm.LaunchBoundsFrom)
                Assert.True(BlocksByRegisters(Registers(report), TensorCoreGemmKernels.Threads) >= blocks,
                    $"{kernel}: {Registers(report)} registers leave room for fewer than the {blocks} blocks its launch bounds ask");
            Assert.Equal(ldmatrix, matrixLoads);
            bool bf16 = kernel.StartsWith("Bf16", StringComparison.Ordinal);
            int macs = mmas * (bf16 ? 2 : 1); // in 1,024s
            int maxInstructions = maxLoopPer1024Mac ?? (bf16 ? MaxInstructionsPer1024Mac.Bf16 : MaxInstructionsPer1024Mac.Tf32);
            double maxFastPath = maxFastPathPer1024Mac ?? (bf16 ? MaxFastPathPer1024Mac.Bf16 : MaxFastPathPer1024Mac.Tf32);
            Assert.True(mmas > 0 && instructions <= maxInstructions * macs,
                $"{kernel}: the k loop has {instructions} instructions for {mmas} HMMA (at most {maxInstructions} per 1,024 MAC)");
            Assert.True(fastPath <= maxFastPath * macs,
                $"{kernel}: the k loop's shortest path has {fastPath} instructions for {mmas} HMMA " +
                $"(at most {maxFastPath} per 1,024 MAC)");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The GEMMs on copies that stage through cp.async (TensorCoreGemmKernels.Pipelined.cs), from the PTX CUDA loads them
    /// from: ILGPU's with its operand slots rewritten into registers (<see cref="PtxLocalSlots"/>). They assemble with no
    /// stack frame and no local memory (ILGPU's own PTX keeps a frame of 0.9–1.6 KB: its size goes to the test output), copy
    /// with LDGSTS, multiply with HMMA from LDSM fragments (12 a tile), keep the two blocks a multiprocessor their launch
    /// bounds ask at sm_90, and their k loop loads nothing from global memory into registers and holds at most
    /// <paramref name="maxInstructions"/> for its 32 HMMA. BF16: 94–107, all on one path, where the register-staged kernels
    /// on copies have 151–154 (shortest path 103–105); it had 116–127 while the loop counted up to its tiles (ILGPU
    /// computed that count inside the loop), branched around the queue of a tile past the end, and named each group by its
    /// element index (an address computed from it every tile). TF32 (one kernel: its copies are all k-contiguous): 101,
    /// where the TF32 kernels on fp32 operands, which round what they stage, have 976–996 for 64 (shortest path 325–368).
    /// </summary>
    [SkippableTheory]
    [InlineData("Bf16PipelinedABt", 90, 12, 110)]
    [InlineData("Bf16PipelinedAB", 90, 12, 110)]
    [InlineData("Bf16PipelinedAtB", 80, 12, 110)]
    [InlineData("Bf16PipelinedAtBt", 80, 12, 110)]
    [InlineData("Bf16PipelinedAtB", 90, 12, 110)]
    [InlineData("Tf32PipelinedABt", 90, 12, 110)]
    [InlineData("Tf32PipelinedABt", 80, 12, 110)]
    public void Pipelined_GEMMs_assemble_from_rewritten_PTX_to_cp_async_and_HMMA_without_local_memory(string kernel, int sm,
        int matrixLoads, int maxInstructions)
    {
        string hmma = kernel.StartsWith("Bf16", StringComparison.Ordinal) ? "HMMA.16816.F32.BF16" : "HMMA.1688.F32.TF32";
        var (report, sass) = AssembleRewritten(typeof(TensorCoreGemmKernels), kernel, sm);
        Assert.Contains("0 bytes stack frame", report);
        Assert.Contains("LDGSTS.E.BYPASS", sass);
        Assert.Contains(hmma, sass);
        Assert.DoesNotContain("LDL", sass);
        Assert.DoesNotContain("STL", sass);
        var loop = SassLoop.Hottest(sass);
        WriteCounts(kernel, sm, report, TensorCoreGemmKernels.Threads, loop);
        Assert.Equal(matrixLoads, loop.MatrixLoads);
        Assert.Empty(loop.GlobalLoadWaits().Waits);
        Assert.True(loop.Mmas == 32 && loop.Instructions <= maxInstructions,
            $"{kernel}: the k loop has {loop.Instructions} instructions for {loop.Mmas} HMMA (at most {maxInstructions} for 32)");
        if (sm >= 10 * TensorCoreGemm.LaunchBoundsFrom)
            Assert.True(BlocksByRegisters(Registers(report), TensorCoreGemmKernels.Threads) >= TensorCoreGemmKernels.ResidentBlocks,
                $"{kernel}: {Registers(report)} registers leave room for fewer than {TensorCoreGemmKernels.ResidentBlocks} blocks");
    }

    /// <summary>
    /// The BF16 attention kernels that copy their tiles through cp.async (heads of 64: the forward its key tiles,
    /// <see cref="TensorCoreAttentionBf16Kernels.ForwardPipelined"/>, the key pass its query tiles,
    /// <see cref="TensorCoreAttentionBf16BackwardKernels.KeyValuePipelined"/>, the dq pass its key tiles,
    /// <see cref="TensorCoreAttentionBf16BackwardKernels.QueryPipelined"/>) likewise assemble from their rewritten PTX with
    /// no stack frame and no local memory, to cp.async and HMMA with fragments loaded by ldmatrix. Their loops over the tiles
    /// (the wait for a tile, its packing between two barriers, the next tile's queue, a warp's products and softmax) wait
    /// for no global load, and at sm_90 their registers leave room for <paramref name="blocks"/> blocks a multiprocessor.
    /// Each is compiled alone (<see cref="KernelPtx.Fresh"/>): at 128 registers, the forward compiled after this suite's
    /// other kernels spilled 8 bytes. The kernels that stage through registers wait once or twice a tile: forward 541
    /// instructions a tile (shortest path 424), key pass 819 (425), dq pass 180 (129), where these have 475 (409), 776 (397)
    /// and 163 (97).
    /// </summary>
    [SkippableTheory]
    [InlineData(typeof(TensorCoreAttentionBf16Kernels), "ForwardPipelined", 64, 32, 2)]
    [InlineData(typeof(TensorCoreAttentionBf16BackwardKernels), "KeyValuePipelined", 64, 40, 4)]
    [InlineData(typeof(TensorCoreAttentionBf16BackwardKernels), "QueryPipelined", 16, 10, 8)]
    public void Pipelined_attention_assembles_from_rewritten_PTX_to_cp_async_and_HMMA_without_local_memory(Type kernels,
        string kernel, int mmas, int matrixLoads, int blocks)
    {
        const int sm = 90;
        int threads = kernels.GetMethod(kernel)!.GetCustomAttribute<IlgpuKernelAttribute>()!.Threads;
        var (report, sass) = AssembleRewritten(kernels, kernel, sm, fresh: true);
        Assert.Contains("0 bytes stack frame", report);
        Assert.Contains("LDGSTS.E.BYPASS", sass);
        Assert.Contains("HMMA.16816.F32.BF16", sass);
        Assert.DoesNotContain("LDL", sass);
        Assert.DoesNotContain("STL", sass);
        var loop = SassLoop.Hottest(sass);
        WriteCounts($"{kernels.Name}.{kernel}", sm, report, threads, loop);
        Assert.Equal((mmas, matrixLoads), (loop.Mmas, loop.MatrixLoads));
        Assert.Empty(loop.GlobalLoadWaits().Waits);
        Assert.True(BlocksByRegisters(Registers(report), threads) >= blocks,
            $"{kernel} takes {Registers(report)} registers: fewer than {blocks} blocks of {threads} threads a multiprocessor");
    }

    /// <summary>
    /// The GEMMs on Hopper's warpgroup products (TensorCoreGemmKernels.Warpgroup.cs), from the PTX CUDA loads them from
    /// (operand slots in registers, retargeted to sm_90a: <see cref="PtxTarget.Hopper"/>), assembled by a ptxas of CUDA 12 or
    /// later (PTXAS_SM90A and CUOBJDUMP_SM90A; CUDA 11.8's knows no sm_90a): no stack frame, no local memory, cp.async copies
    /// (LDGSTS) and 64 × 128 warpgroup products (HGMMA, 16 deep in BF16, 8 in TF32), four a tile, whose k loop waits for no
    /// global load and keeps a tile's products in flight into the next tile (WARPGROUP.DEPBAR.LE gsb0, 0x1: it waits for
    /// the products of the tile before). ptxas does not serialize the products (its warnings C7514 and C7515, which an
    /// instruction that reads or writes an accumulator while products are in flight brings: ILGPU's operand moves did, and
    /// accumulators never written before the first product did), the registers leave room for the two blocks the launch
    /// bounds ask, and the loop stays lean: at most <see cref="MaxWarpgroupFastPath"/> instructions on the path of a tile
    /// wholly inside the operands, a tile's copies, barrier and fence included (114–116 with CUDA 12.4's ptxas for four
    /// products of 64 × 128 × 16; 125–128 for as many multiply-adds when tiles held 64 bytes of k, each warpgroup issued two
    /// 64 × 64 products a k-step and rebuilt every descriptor from its address), and at most
    /// <see cref="MaxWarpgroupLoop"/> in the whole loop, the path of a tile tested piece by piece included (242–246).
    /// </summary>
    [SkippableTheory]
    [InlineData("Bf16WarpgroupABt")]
    [InlineData("Bf16WarpgroupAB")]
    [InlineData("Bf16WarpgroupAtB")]
    [InlineData("Bf16WarpgroupAtBt")]
    [InlineData("Tf32WarpgroupABt")]
    public void Warpgroup_GEMMs_assemble_for_sm_90a_to_HGMMA_without_local_memory(string kernel)
    {
        var (report, sass) = AssembleRewritten(typeof(TensorCoreGemmKernels), kernel, 90, hopper: true);
        Assert.Contains("0 bytes stack frame", report);
        Assert.DoesNotContain("C751", report);
        Assert.Contains("WARPGROUP.DEPBAR.LE gsb0, 0x1", sass);
        Assert.Contains("LDGSTS.E.BYPASS", sass);
        Assert.Contains(kernel.StartsWith("Bf16", StringComparison.Ordinal) ? "HGMMA.64x128x16.F32.BF16" : "HGMMA.64x128x8.F32.TF32",
            sass);
        Assert.DoesNotContain("LDL", sass);
        Assert.DoesNotContain("STL", sass);
        var loop = SassLoop.Hottest(sass);
        WriteCounts(kernel, 90, report, TensorCoreGemmKernels.Threads, loop);
        Assert.Equal(4, loop.Mmas);
        Assert.True(loop.FastPath.Count <= MaxWarpgroupFastPath,
            $"{kernel}: the k loop's shortest path has {loop.FastPath.Count} instructions a tile");
        Assert.True(loop.Instructions <= MaxWarpgroupLoop, $"{kernel}: the k loop has {loop.Instructions} instructions");
        Assert.Empty(loop.GlobalLoadWaits().Waits);
        Assert.True(BlocksByRegisters(Registers(report), TensorCoreGemmKernels.Threads) >= TensorCoreGemmKernels.ResidentBlocks,
            $"{kernel}: {Registers(report)} registers leave room for fewer than {TensorCoreGemmKernels.ResidentBlocks} blocks");
    }

    /// <summary>
    /// ILGPU's PTX of <paramref name="kernel"/> for sm_<paramref name="sm"/> (the PTX tests', or compiled alone where
    /// <paramref name="fresh"/>), its inline-PTX operand slots moved to registers (<see cref="PtxLocalSlots"/>) as CUDA loads
    /// it, assembled: ptxas's report and the SASS. ILGPU's own PTX's stack frame goes to the test output. Where
    /// <paramref name="hopper"/>, retargeted to sm_90a and assembled by the tools of CUDA 12 or later.
    /// </summary>
    private (string Report, string Sass) AssembleRewritten(Type kernels, string kernel, int sm, bool fresh = false,
        bool hopper = false)
    {
        var (ptxas, cuobjdump) = hopper ? HopperTools() : Tools();
        string arch = hopper ? "sm_90a" : $"sm_{sm}";
        string folder = Path.Combine(Path.GetTempPath(), $"ilgpudiffusion-sass-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string ilgpuPtx = fresh ? KernelPtx.Fresh(kernels, kernel, sm) : compiler.Of(kernels, kernel, sm);
            string raw = Path.Combine(folder, $"{kernel}.ilgpu.ptx"), ptxPath = Path.Combine(folder, $"{kernel}.ptx");
            string cubin = Path.Combine(folder, $"{kernel}.cubin");
            File.WriteAllText(raw, hopper ? PtxTarget.Hopper(ilgpuPtx) : ilgpuPtx);
            output.WriteLine($"ILGPU's own PTX: {Regex.Match(Run(ptxas, $"-arch={arch} -v \"{raw}\" -o \"{cubin}\""),
                @"\d+ bytes stack frame").Value}");
            string rewritten = PtxLocalSlots.ToRegisters(ilgpuPtx);
            File.WriteAllText(ptxPath, hopper ? PtxTarget.Hopper(rewritten) : rewritten);
            string report = Run(ptxas, $"-arch={arch} -v \"{ptxPath}\" -o \"{cubin}\"");
            return (report, Run(cuobjdump, $"-sass \"{cubin}\""));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The tensor-core attention kernels (heads of 64, the variants for narrower heads, the wide-head forwards and
    /// backwards) likewise assemble with no stack frame and no local memory and use HMMA, with fragments loaded by ldmatrix
    /// (LDSM) wherever an operand's k is contiguous in shared memory (all but the TF32 dq passes, whose operands are
    /// transposed); their loops mix the products with softmax and staging, so no instruction bound. A row with
    /// <paramref name="loadWaits"/> bounds the times a whole tile's pass waits for global memory
    /// (<see cref="SassLoop.GlobalLoadWaits"/>): the staging of a tile issues its loads together, where a rounding with a
    /// branch on each loaded quad had the TF32 kernels wait once per load (8 to 24 times a tile). A row with
    /// <paramref name="blocks"/> compiles its kernel alone (<see cref="KernelPtx.Fresh"/>, as a process that runs it compiles
    /// it) and requires that many blocks of its threads a multiprocessor as far as registers go: the BF16 forward keeps 2
    /// of 256 threads, the BF16 key pass 4 of 128, the TF32 key pass in blocks of 64 keys the 3 of 128 its shared memory
    /// allows on an H100 or H200. A kernel's threads are those its attribute names, else its class's.
    /// </summary>
    [SkippableTheory]
    [InlineData(typeof(TensorCoreAttentionKernels), "Forward", 80, "HMMA.1688.F32.TF32", true, 0, 1)]
    [InlineData(typeof(TensorCoreAttentionBf16Kernels), "Forward", 90, "HMMA.16816.F32.BF16", true, 2, 1)]
    [InlineData(typeof(TensorCoreAttentionBackwardKernels), "KeyValue", 90, "HMMA.1688.F32.TF32", true, 0, 1)]
    [InlineData(typeof(TensorCoreAttentionBackwardKernels), "KeyValueBlock", 90, "HMMA.1688.F32.TF32", true, 3, 1)]
    [InlineData(typeof(TensorCoreAttentionBf16BackwardKernels), "KeyValue", 90, "HMMA.16816.F32.BF16", true, 4, 1)]
    [InlineData(typeof(TensorCoreAttentionBf16BackwardKernels), "Query", 90, "HMMA.16816.F32.BF16", true, 0, 2)]
    [InlineData(typeof(TensorCoreAttentionBackwardKernels), "Query", 80, "HMMA.1688.F32.TF32", false, 0, 2)]
    [InlineData(typeof(TensorCoreAttentionKernels), "ForwardNarrowHeads", 80, "HMMA.1688.F32.TF32", true)]
    [InlineData(typeof(TensorCoreAttentionBf16Kernels), "ForwardNarrowHeads", 90, "HMMA.16816.F32.BF16", true)]
    [InlineData(typeof(TensorCoreAttentionBackwardKernels), "KeyValueNarrowHeads", 90, "HMMA.1688.F32.TF32", true)]
    [InlineData(typeof(TensorCoreAttentionBf16BackwardKernels), "KeyValueNarrowHeads", 80, "HMMA.16816.F32.BF16", true)]
    [InlineData(typeof(TensorCoreAttentionBf16BackwardKernels), "QueryNarrowHeads", 90, "HMMA.16816.F32.BF16", true)]
    [InlineData(typeof(TensorCoreAttentionBackwardKernels), "QueryNarrowHeads", 80, "HMMA.1688.F32.TF32", false)]
    [InlineData(typeof(TensorCoreWideAttentionKernels), "Forward", 90, "HMMA.1688.F32.TF32", true, 0, 4)]
    [InlineData(typeof(TensorCoreWideAttentionBf16Kernels), "Forward", 80, "HMMA.16816.F32.BF16", true, 0, 4)]
    [InlineData(typeof(TensorCoreAttentionBackwardKernels), "KeyValueWide", 90, "HMMA.1688.F32.TF32", true, 0, 4)]
    [InlineData(typeof(TensorCoreAttentionBackwardKernels), "QueryWide", 80, "HMMA.1688.F32.TF32", false, 0, 3)]
    [InlineData(typeof(TensorCoreAttentionBf16BackwardKernels), "KeyValueWide", 80, "HMMA.16816.F32.BF16", true, 0, 4)]
    [InlineData(typeof(TensorCoreAttentionBf16BackwardKernels), "QueryWide", 90, "HMMA.16816.F32.BF16", true, 0, 3)]
    public void Tensor_core_attention_assembles_to_HMMA_without_local_memory(Type kernels, string kernel, int sm, string instruction,
        bool ldmatrix, int blocks = 0, int loadWaits = -1)
    {
        var (ptxas, cuobjdump) = Tools();
        string folder = Path.Combine(Path.GetTempPath(), $"ilgpudiffusion-sass-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string ptxPath = Path.Combine(folder, $"{kernel}.ptx"), cubin = Path.Combine(folder, $"{kernel}.cubin");
            File.WriteAllText(ptxPath, blocks > 0 ? KernelPtx.Fresh(kernels, kernel, sm) : compiler.Of(kernels, kernel, sm));
            string report = Run(ptxas, $"-arch=sm_{sm} -v \"{ptxPath}\" -o \"{cubin}\"");
            Assert.Contains("0 bytes stack frame", report);
            string sass = Run(cuobjdump, $"-sass \"{cubin}\"");
            Assert.Contains(instruction, sass);
            Assert.Equal(ldmatrix, sass.Contains("LDSM", StringComparison.Ordinal));
            Assert.DoesNotContain("LDL", sass);
            Assert.DoesNotContain("STL", sass);
            // Every probability is one MUFU.EX2 (FastExp2): MathF.Exp's range fix-up compares its argument with −126.
            Assert.DoesNotContain("-126, PT", sass);
            int threads = kernels.GetMethod(kernel)!.GetCustomAttribute<IlgpuKernelAttribute>()!.Threads is > 0 and var bounded
                ? bounded
                : (int)kernels.GetField("Threads")!.GetValue(null)!;
            var loop = SassLoop.Hottest(sass);
            WriteCounts($"{kernels.Name}.{kernel}", sm, report, threads, loop);
            int waits = loop.GlobalLoadWaits().Waits.Count;
            if (loadWaits >= 0)
                Assert.True(waits <= loadWaits,
                    $"{kernel}: a whole tile's pass waits for global memory {waits} times " +
                    $"(at most {loadWaits}): its staging uses a load before it issues the next");
            Assert.True(BlocksByRegisters(Registers(report), threads) >= blocks,
                $"{kernel} takes {Registers(report)} registers: fewer than {blocks} blocks of {threads} threads a multiprocessor");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// A kernel's registers (ptxas's report), the blocks of <paramref name="threads"/> they let a multiprocessor hold, and its
    /// hottest loop's counts, to the test output.
    /// </summary>
    private void WriteCounts(string kernel, int sm, string report, int threads, SassLoop loop)
    {
        int registers = Registers(report);
        output.WriteLine($"{kernel} sm_{sm}: {registers} registers ({BlocksByRegisters(registers, threads)} blocks of {threads} " +
            $"threads a multiprocessor); loop {loop.Instructions} instructions, shortest path {loop.FastPath.Count}, {loop.Mmas} " +
            $"HMMA, {loop.MatrixLoads} LDSM, waits for global loads at {string.Join(", ", loop.GlobalLoadWaits().Waits)}");
    }

    /// <summary>The registers a thread of the kernel takes, from ptxas's report.</summary>
    private static int Registers(string report) => int.Parse(Regex.Match(report, @"Used (\d+) registers").Groups[1].Value);

    /// <summary>
    /// Register counts either side of a block boundary: the BF16 attention forward (128 threads) with its K and V stages
    /// apart and together, its key pass (64 threads) before and after 16-byte staging, a GEMM block of 256 at the deep TF32
    /// kernels' count, and the 32-block cap.
    /// </summary>
    [Theory]
    [InlineData(126, 128, 4)]
    [InlineData(132, 128, 3)]
    [InlineData(164, 64, 6)]
    [InlineData(174, 64, 5)]
    [InlineData(161, 256, 1)]
    [InlineData(32, 64, 32)]
    public void Blocks_by_registers_follow_the_allocation_in_warp_units(int registers, int threads, int blocks) =>
        Assert.Equal(blocks, BlocksByRegisters(registers, threads));

    /// <summary>
    /// Blocks a multiprocessor of compute capability 8.0 or 9.0 holds as far as registers go: 65,536 registers, given out
    /// per warp in units of 256, at most 64 warps and 32 blocks (CUDA C Programming Guide, "Compute Capabilities").
    /// </summary>
    private static int BlocksByRegisters(int registers, int threads)
    {
        int warps = (threads + 31) / 32, perWarp = (registers * 32 + 255) / 256 * 256;
        return Math.Min(32, Math.Min(65_536 / (warps * perWarp), 64 / warps));
    }

    /// <summary>ptxas and cuobjdump from PTXAS and CUOBJDUMP; skips the calling test where they are not set.</summary>
    private static (string Ptxas, string Cuobjdump) Tools()
    {
        string? ptxas = Environment.GetEnvironmentVariable("PTXAS"), cuobjdump = Environment.GetEnvironmentVariable("CUOBJDUMP");
        Skip.If(string.IsNullOrEmpty(ptxas) || string.IsNullOrEmpty(cuobjdump),
            "PTXAS and CUOBJDUMP are not set: NVIDIA's assembler is not on this machine " +
            "(.ci/run fetches it when Debian's mirror serves it)");
        return (ptxas!, cuobjdump!);
    }

    /// <summary>
    /// ptxas and cuobjdump of CUDA 12 or later from PTXAS_SM90A and CUOBJDUMP_SM90A (tools/ci/fetch-ptxas.sh fetches them
    /// from Debian's next release); skips the calling test where they are not set.
    /// </summary>
    private static (string Ptxas, string Cuobjdump) HopperTools()
    {
        string? ptxas = Environment.GetEnvironmentVariable("PTXAS_SM90A");
        string? cuobjdump = Environment.GetEnvironmentVariable("CUOBJDUMP_SM90A");
        Skip.If(string.IsNullOrEmpty(ptxas) || string.IsNullOrEmpty(cuobjdump),
            "PTXAS_SM90A and CUOBJDUMP_SM90A are not set: no assembler of CUDA 12 or later, which sm_90a needs, is on this " +
            "machine (.ci/run fetches one when Debian's mirror serves it)");
        return (ptxas!, cuobjdump!);
    }

    private static string Run(string tool, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(tool, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{Path.GetFileName(tool)} {arguments} failed:\n{output}");
        return output;
    }
}
