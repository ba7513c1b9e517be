using System.Reflection;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// Filling the PTX cache ahead of use (<see cref="KernelPrecompiler"/>): the forms a kernel loads in, and a fill on two
/// threads whose entries a later process (another context, the same architecture and PTX ISA) reads without compiling.
/// </summary>
public sealed class KernelPrecompilerTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    [Fact]
    public void Every_kernel_has_a_form_without_bounds_and_one_with_them_where_it_has_bounds_and_Hopper_s_only_on_sm_90()
    {
        var kernels = KernelRegistry.All();
        int hopper = kernels.Count(k => KernelRegistry.Rewrite(k.Method) == PtxRewrite.Hopper);
        int bounded = kernels.Count(k => KernelRegistry.Specialization(k.Method) != KernelSpecialization.Empty);
        int boundedHopper = kernels.Count(k => KernelRegistry.Rewrite(k.Method) == PtxRewrite.Hopper &&
            KernelRegistry.Specialization(k.Method) != KernelSpecialization.Empty);
        Assert.True(hopper > 0 && bounded > 0);

        var ampere = KernelPrecompiler.Forms(CudaArchitecture.SM_80);
        var hopperForms = KernelPrecompiler.Forms(CudaArchitecture.SM_90);

        Assert.Equal(kernels.Count - hopper + bounded - boundedHopper, ampere.Count);
        Assert.Equal(kernels.Count + bounded, hopperForms.Count);
        Assert.Equal(hopperForms.Count, hopperForms.Distinct().Count());
        Assert.All(kernels, k => Assert.Contains((k.Method, KernelSpecialization.Empty), hopperForms));
        Assert.All(kernels.Where(k => KernelRegistry.Specialization(k.Method) != KernelSpecialization.Empty),
            k => Assert.Contains((k.Method, KernelRegistry.Specialization(k.Method)), hopperForms));
    }

    [Fact]
    public void A_fill_on_two_threads_leaves_entries_a_later_process_reads_without_compiling()
    {
        (MethodInfo, KernelSpecialization)[] forms =
        [
            (Method(typeof(OptimizerKernels), nameof(OptimizerKernels.SumPartials)), KernelSpecialization.Empty),
            (Method(typeof(OptimizerKernels), nameof(OptimizerKernels.SumOfSquaresPartials)), KernelSpecialization.Empty),
            (Method(typeof(UtilityKernels), nameof(UtilityKernels.Fill)), KernelSpecialization.Empty),
            (Method(typeof(UtilityKernels), nameof(UtilityKernels.Copy)), KernelSpecialization.Empty),
        ];
        var reported = new List<int>();
        var progress = new SynchronousProgress(done => { lock (reported) reported.Add(done); });

        var first = KernelPrecompiler.Fill(new PtxCache(_folder.Path), CudaArchitecture.SM_80, CudaInstructionSet.ISA_78, forms,
            threads: 2, progress);
        var again = KernelPrecompiler.Fill(new PtxCache(_folder.Path), CudaArchitecture.SM_80, CudaInstructionSet.ISA_78, forms,
            threads: 2);

        Assert.Equal((4, 4), (first.Forms, first.Compiled));
        Assert.Equal((4, 0), (again.Forms, again.Compiled));
        Assert.Equal([1, 2, 3, 4], reported.Order());
        using var context = IlgpuRuntime.CreateIsolated();
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80,
            CudaInstructionSet.ISA_78, nvvmAPI: null);
        var later = new PtxCache(_folder.Path);
        foreach (var (method, specialization) in forms)
            later.Get(backend, KernelRegistry.EntryOf(method), specialization, KernelRegistry.Rewrite(method),
                () => throw new InvalidOperationException($"{method.Name} compiled again"));
        Assert.Equal((4, 0), (later.Hits, later.Misses));
    }

    [Fact]
    public void A_cancelled_fill_stops()
    {
        var forms = new[] { (Method(typeof(UtilityKernels), nameof(UtilityKernels.Fill)), KernelSpecialization.Empty) };
        Assert.ThrowsAny<OperationCanceledException>(() => KernelPrecompiler.Fill(new PtxCache(_folder.Path),
            CudaArchitecture.SM_80, CudaInstructionSet.ISA_78, forms, threads: 1, cancellation: new CancellationToken(true)));
        Assert.Empty(_folder.AllFiles());
    }

    public void Dispose() => _folder.Dispose();

    private static MethodInfo Method(Type kernels, string name) => kernels.GetMethod(name)!;

    /// <summary>Reports on the reporting thread (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
