using System.Reflection;
using ILGPU.Backends.EntryPoints;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>How an ILGPU kernel entry point is launched.</summary>
internal enum KernelGrouping
{
    /// <summary>Implicitly grouped: the first parameter is an <c>Index1D</c>; ILGPU picks the group size.</summary>
    Implicit,

    /// <summary>Explicitly grouped: launched with a <c>KernelConfig</c> (grid, group, dynamic shared memory).</summary>
    Explicit,
}

/// <summary>
/// Marks a static method as an ILGPU kernel entry point. <see cref="IlgpuKernels"/> loads
/// kernels only through <see cref="KernelRegistry.Checked{TDelegate}"/>, which refuses
/// unmarked methods, and the PTX test compiles every marked method: no kernel can be
/// loaded without also being compiled for CUDA in the tests.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
internal sealed class IlgpuKernelAttribute(KernelGrouping grouping) : Attribute
{
    /// <summary>How the kernel is launched.</summary>
    public KernelGrouping Grouping { get; } = grouping;

    /// <summary>
    /// The threads of every launch's group where the kernel's class does not say (the SASS tests count blocks by them);
    /// with <see cref="BlocksPerMultiprocessor"/>, its launch bounds (PTX <c>.maxntid</c>). 0 when neither.
    /// </summary>
    public int Threads { get; set; }

    /// <summary>
    /// Blocks of <see cref="Threads"/> a multiprocessor is to hold at once (PTX <c>.minnctapersm</c>), which caps the
    /// registers ptxas gives a thread: 2 blocks of 256 threads, 128 registers. 0 when the kernel has no launch bounds.
    /// </summary>
    public int BlocksPerMultiprocessor { get; set; }

    /// <summary>
    /// Whether the kernel has Hopper's warpgroup instructions (<see cref="Kernels.Wgmma"/>): it loads only on compute
    /// capability 9.0, from PTX retargeted to sm_90a (<see cref="PtxTarget.Hopper"/>), so the PTX tests compile it for
    /// sm_90 alone.
    /// </summary>
    public bool Hopper { get; set; }

    /// <summary>
    /// Whether the kernel copies to shared memory by <c>cp.async</c> (<see cref="Kernels.AsyncCopies"/>): CUDA loads it from
    /// PTX whose inline-PTX operand slots are put in registers (<see cref="PtxRewrite.SlotsInRegisters"/>), as ptxas keeps
    /// them in local memory in such a kernel. A <see cref="Hopper"/> kernel's rewrite includes it.
    /// </summary>
    public bool AsyncCopies { get; set; }
}

/// <summary>Finds and checks the library's kernel entry points.</summary>
internal static class KernelRegistry
{
    /// <summary>Every method of this assembly marked with <see cref="IlgpuKernelAttribute"/>.</summary>
    public static IReadOnlyList<(MethodInfo Method, KernelGrouping Grouping)> All() =>
        typeof(KernelRegistry).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<IlgpuKernelAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => (x.Method, x.Attribute!.Grouping))
            .OrderBy(x => x.Method.DeclaringType!.FullName + "." + x.Method.Name, StringComparer.Ordinal)
            .ToArray();

    /// <summary>
    /// The launch bounds kernel <paramref name="method"/>'s attribute names (<see cref="IlgpuKernelAttribute.BlocksPerMultiprocessor"/>);
    /// <see cref="TensorCoreGemm"/> loads them from compute capability <see cref="TensorCoreGemm.LaunchBoundsFrom"/> on, and
    /// the PTX tests compile them there too.
    /// </summary>
    public static KernelSpecialization Specialization(MethodInfo method)
    {
        var kernel = AttributeOf(method);
        return kernel.BlocksPerMultiprocessor > 0
            ? new KernelSpecialization(kernel.Threads, kernel.BlocksPerMultiprocessor)
            : KernelSpecialization.Empty;
    }

    /// <summary>What is done to the registered kernel <paramref name="method"/>'s PTX before CUDA loads it.</summary>
    public static PtxRewrite Rewrite(MethodInfo method)
    {
        var kernel = AttributeOf(method);
        return kernel.Hopper ? PtxRewrite.Hopper : kernel.AsyncCopies ? PtxRewrite.SlotsInRegisters : PtxRewrite.None;
    }

    /// <summary>How the registered kernel <paramref name="method"/> is launched.</summary>
    public static KernelGrouping GroupingOf(MethodInfo method) => AttributeOf(method).Grouping;

    /// <summary>The entry point the registered kernel <paramref name="method"/> compiles as, by its grouping.</summary>
    public static EntryPointDescription EntryOf(MethodInfo method) => GroupingOf(method) == KernelGrouping.Explicit
        ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
        : EntryPointDescription.FromImplicitlyGroupedKernel(method);

    /// <summary>Returns <paramref name="kernel"/> after checking that it is a registered kernel entry point.</summary>
    public static TDelegate Checked<TDelegate>(TDelegate kernel) where TDelegate : Delegate
    {
        var method = kernel.Method;
        if (!method.IsStatic || method.GetCustomAttribute<IlgpuKernelAttribute>() is null)
            throw new InvalidOperationException(
                $"{method.DeclaringType?.Name}.{method.Name} is loaded as an ILGPU kernel but lacks [IlgpuKernel]; " +
                "mark it so the PTX test compiles it.");
        return kernel;
    }

    private static IlgpuKernelAttribute AttributeOf(MethodInfo method) => method.GetCustomAttribute<IlgpuKernelAttribute>() ??
        throw new ArgumentException($"{method.DeclaringType?.Name}.{method.Name} is not an [IlgpuKernel].", nameof(method));
}
