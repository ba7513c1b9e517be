using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Bench.Kernels;

/// <summary>
/// What a process on a GPU pays for its kernels before its first step: a fresh context compiling a training step's kinds
/// of kernels for sm_90 (the TF32 GEMMs of every layout and their split-K sum, the TF32 flash attention forward and its
/// two backward passes, the modulated LayerNorm forward and backward, GELU, the SUBS loss and AdamW), against a fresh
/// context reading the same kernels' PTX from <see cref="PtxCache"/> (what every later process does). Loading the PTX
/// into the driver is the same in both and needs a GPU, so it is left out.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class KernelCacheBenchmarks
{
    private static readonly (Type Kernels, string Name)[] StepKernels =
    [
        (typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.Tf32ABt)),
        (typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.Tf32AB)),
        (typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.Tf32AtB)),
        (typeof(TensorCoreGemmKernels), nameof(TensorCoreGemmKernels.ReduceSplits)),
        (typeof(TensorCoreAttentionKernels), nameof(TensorCoreAttentionKernels.Forward)),
        (typeof(TensorCoreAttentionBackwardKernels), nameof(TensorCoreAttentionBackwardKernels.KeyValue)),
        (typeof(TensorCoreAttentionBackwardKernels), nameof(TensorCoreAttentionBackwardKernels.Query)),
        (typeof(LayerNormKernels), nameof(LayerNormKernels.ForwardModulatedWarpSums)),
        (typeof(LayerNormKernels), nameof(LayerNormKernels.BackwardInputAndWeightWarpSums)),
        (typeof(ActivationKernels), nameof(ActivationKernels.GeluForward)),
        (typeof(LossKernels), nameof(LossKernels.SubsCrossEntropy)),
        (typeof(OptimizerKernels), nameof(OptimizerKernels.ClippedAdamW)),
    ];

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"ilgpudiffusion-bench-{Guid.NewGuid():N}");

    /// <summary>Fills the cache once, as the first process on a machine does.</summary>
    [GlobalSetup]
    public void Setup() => Run(new PtxCache(_root));

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark(Baseline = true, Description = "compile (a fresh context, no cache)")]
    public int Compile() => Run(cache: null);

    [Benchmark(Description = "read from the PTX cache (a fresh context)")]
    public int Read() => Run(new PtxCache(_root));

    /// <summary>The step's kernels for sm_90 in a context of their own; the PTX's total length.</summary>
    private static int Run(PtxCache? cache)
    {
        using var context = IlgpuRuntime.CreateIsolated();
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90,
            CudaInstructionSet.ISA_78, nvvmAPI: null);
        int length = 0;
        foreach (var (kernels, name) in StepKernels)
        {
            var method = KernelRegistry.All().Single(k => k.Method.DeclaringType == kernels && k.Method.Name == name).Method;
            var entry = KernelRegistry.EntryOf(method);
            var specialization = KernelRegistry.Specialization(method);
            length += (cache is null
                ? PtxKernels.Compile(backend, entry, specialization, KernelRegistry.Rewrite(method))
                : cache.Get(backend, entry, specialization, KernelRegistry.Rewrite(method),
                    () => PtxKernels.Compile(backend, entry, specialization, KernelRegistry.Rewrite(method)))).PTXAssembly.Length;
        }
        return length;
    }
}
