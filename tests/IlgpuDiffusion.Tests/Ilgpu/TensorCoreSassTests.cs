using System.Diagnostics;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The machine code of the tensor-core GEMMs, where NVIDIA's assembler is at hand (the environment variables PTXAS and
/// CUOBJDUMP name ptxas and cuobjdump; .ci/run fetches them from Debian's nvidia-cuda-toolkit package, a GPU machine has
/// them): every kernel assembles for sm_80 with no stack frame (ILGPU passes inline-PTX operands through local-memory
/// slots, which ptxas must fold into registers; cp.async, for one, stops it) and uses HMMA, the tensor-core instruction.
/// Skipped, with the reason, where the tools are absent.
/// </summary>
public sealed class TensorCoreSassTests
{
    [SkippableTheory]
    [InlineData("Tf32", "HMMA.1688.F32.TF32")]
    [InlineData("Bf16", "HMMA.16816.F32.BF16")]
    public void Tensor_core_GEMMs_assemble_to_HMMA_without_local_memory(string kernel, string instruction)
    {
        string? ptxas = Environment.GetEnvironmentVariable("PTXAS"), cuobjdump = Environment.GetEnvironmentVariable("CUOBJDUMP");
        Skip.If(string.IsNullOrEmpty(ptxas) || string.IsNullOrEmpty(cuobjdump),
            "PTXAS and CUOBJDUMP are not set: NVIDIA's assembler is not on this machine " +
            "(.ci/run fetches it when Debian's mirror serves it)");

        string folder = Path.Combine(Path.GetTempPath(), $"ilgpudiffusion-sass-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string ptxPath = Path.Combine(folder, $"{kernel}.ptx"), cubin = Path.Combine(folder, $"{kernel}.cubin");
            File.WriteAllText(ptxPath, CompileForSm80(kernel));
            string report = Run(ptxas!, $"-arch=sm_80 -v \"{ptxPath}\" -o \"{cubin}\"");
            Assert.Contains("0 bytes stack frame", report);
            string sass = Run(cuobjdump!, $"-sass \"{cubin}\"");
            Assert.Contains(instruction, sass);
            Assert.DoesNotContain("LDL", sass);
            Assert.DoesNotContain("STL", sass);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The kernel's PTX for sm_80 at ISA 7.8, which every ptxas from CUDA 11.8 on reads.</summary>
    private static string CompileForSm80(string kernel)
    {
        var (method, grouping) = KernelRegistry.All()
            .Single(k => k.Method.DeclaringType == typeof(TensorCoreGemmKernels) && k.Method.Name == kernel);
        using var context = IlgpuRuntime.CreateIsolated();
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80,
            CudaInstructionSet.ISA_78, nvvmAPI: null);
        var entry = grouping == KernelGrouping.Explicit
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);
        return ((PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty)).PTXAssembly;
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
