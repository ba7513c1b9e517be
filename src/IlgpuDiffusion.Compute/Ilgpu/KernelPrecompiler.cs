using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Fills a <see cref="PtxCache"/> ahead of use with every form the registered kernels load in on one CUDA architecture,
/// so that a GPU machine's first run starts at once instead of compiling each kernel as it is first used. It can compile
/// on several threads, each in a context of its own (ILGPU compiles one kernel at a time in a context); on the 2-core
/// machine it was measured on, two threads took longer than one (bench/results/kernel-cache-2core-avx512.md).
/// </summary>
internal static class KernelPrecompiler
{
    /// <summary>
    /// Every form a registered kernel can load in on <paramref name="architecture"/>: without launch bounds, and with its
    /// registration's where it has them (load sites take them from compute capability 9.0 on, or as the device's choices
    /// say); Hopper's kernels on sm_90 only. The rewrite is the registration's.
    /// </summary>
    public static IReadOnlyList<(MethodInfo Method, KernelSpecialization Specialization)> Forms(CudaArchitecture architecture) =>
        [.. KernelRegistry.All()
            .Where(k => KernelRegistry.Rewrite(k.Method) != PtxRewrite.Hopper || architecture == CudaArchitecture.SM_90)
            .SelectMany(k => KernelRegistry.Specialization(k.Method) is var bounds && bounds != KernelSpecialization.Empty
                ? new[] { (k.Method, KernelSpecialization.Empty), (k.Method, bounds) }
                : [(k.Method, KernelSpecialization.Empty)])];

    /// <summary>
    /// Compiles <paramref name="forms"/> for <paramref name="architecture"/> at <paramref name="instructionSet"/> into
    /// <paramref name="cache"/> on <paramref name="threads"/> threads, reporting each form done (those already cached
    /// included) to <paramref name="progress"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 1.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> stopped it (the forms done stay cached).</exception>
    public static PrecompileSummary Fill(PtxCache cache, CudaArchitecture architecture, CudaInstructionSet instructionSet,
        IReadOnlyList<(MethodInfo Method, KernelSpecialization Specialization)> forms, int threads, IProgress<int>? progress = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(forms);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var clock = Stopwatch.StartNew();
        int next = -1, done = 0, compiled = 0;
        void Work()
        {
            using var context = IlgpuRuntime.CreateIsolated();
            using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet,
                nvvmAPI: null);
            for (int i = Interlocked.Increment(ref next); i < forms.Count; i = Interlocked.Increment(ref next))
            {
                cancellation.ThrowIfCancellationRequested();
                var (method, specialization) = forms[i];
                var entry = KernelRegistry.EntryOf(method);
                var rewrite = KernelRegistry.Rewrite(method);
                cache.Get(backend, entry, specialization, rewrite, () =>
                {
                    Interlocked.Increment(ref compiled);
                    return PtxKernels.Compile(backend, entry, specialization, rewrite);
                });
                progress?.Report(Interlocked.Increment(ref done));
            }
        }
        var workers = Enumerable.Range(0, Math.Min(threads, Math.Max(forms.Count, 1)))
            .Select(_ => Task.Factory.StartNew(Work, cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        try
        {
            Task.WaitAll(workers, CancellationToken.None);
        }
        catch (AggregateException e)
        {
            var failure = e.InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException);
            if (failure is null) throw new OperationCanceledException(cancellation);
            ExceptionDispatchInfo.Throw(failure);
        }
        return new PrecompileSummary(forms.Count, compiled, clock.Elapsed);
    }
}

/// <summary>What <see cref="KernelPrecompiler.Fill"/> did: <paramref name="Forms"/> in all, <paramref name="Compiled"/> of
/// them compiled (the others were cached already), in <paramref name="Elapsed"/>.</summary>
internal readonly record struct PrecompileSummary(int Forms, int Compiled, TimeSpan Elapsed);
