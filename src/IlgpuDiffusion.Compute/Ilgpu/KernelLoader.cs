using System.Reflection;
using ILGPU.Backends;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Loads the library's kernels. On CUDA, a kernel's PTX comes from <see cref="PtxCache.Default"/> where an earlier process
/// compiled it, else from ILGPU's compiler (then kept there), after the kernel's <see cref="PtxRewrite"/>; the launcher is
/// the one ILGPU generates for the kernel's parameters. Elsewhere (ILGPU's CPU accelerator) ILGPU loads it as it loads any.
/// The typed forms (<see cref="TypedKernelLoading"/>) give a launcher of the kernel's own parameters.
/// </summary>
internal static class KernelLoader
{
    /// <summary>
    /// The launcher of the registered kernel <paramref name="method"/> on <paramref name="accelerator"/>: a
    /// <typeparamref name="TLauncher"/> that takes the stream, the launch's configuration (a <c>KernelConfig</c>, or the
    /// index of an implicitly grouped kernel, whose group size ILGPU picks) and the kernel's parameters. On CUDA its PTX is
    /// rewritten as its registration says (<see cref="KernelRegistry.Rewrite"/>). The kernel is the caller's to keep
    /// (ILGPU's cache of loaded kernels does not hold it).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="method"/> is not a registered kernel, or is implicitly grouped and given launch bounds.
    /// </exception>
    public static TLauncher Load<TLauncher>(Accelerator accelerator, MethodInfo method, KernelSpecialization specialization)
        where TLauncher : Delegate =>
        Load<TLauncher>(accelerator, method, specialization, PtxCache.Default);

    /// <summary>
    /// <see cref="Load{TLauncher}(Accelerator, MethodInfo, KernelSpecialization)"/> with the PTX of <paramref name="cache"/>
    /// (none: compiled every time).
    /// </summary>
    internal static TLauncher Load<TLauncher>(Accelerator accelerator, MethodInfo method, KernelSpecialization specialization,
        PtxCache? cache)
        where TLauncher : Delegate
    {
        bool explicitly = KernelRegistry.GroupingOf(method) == KernelGrouping.Explicit;
        if (!explicitly && specialization != KernelSpecialization.Empty)
            throw new ArgumentException($"{method.Name} is implicitly grouped: it takes no launch bounds.", nameof(method));
        if (accelerator.GetBackend() is not PTXBackend backend)
            return explicitly
                ? accelerator.LoadKernel<TLauncher>(method, specialization)
                : accelerator.LoadAutoGroupedKernel<TLauncher>(method);
        var entry = KernelRegistry.EntryOf(method);
        var rewrite = KernelRegistry.Rewrite(method);
        var compiled = cache is not null
            ? cache.Get(backend, entry, specialization, rewrite, () => PtxKernels.Compile(backend, entry, specialization, rewrite))
            : PtxKernels.Compile(backend, entry, specialization, rewrite);
        var kernel = explicitly ? accelerator.LoadKernel(compiled) : accelerator.LoadAutoGroupedKernel(compiled);
        return kernel.CreateLauncherDelegate<TLauncher>();
    }
}
