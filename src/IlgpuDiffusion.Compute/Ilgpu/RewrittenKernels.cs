using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Kernels that run on CUDA from PTX that <see cref="PtxLocalSlots"/> rewrote: ILGPU compiles the kernel as it compiles
/// any, the rewrite puts its inline-PTX operand slots in registers, and the accelerator loads the result with the launcher
/// ILGPU generates for that kernel's parameters. ILGPU 1.5.3 builds such a kernel only from PTX it wrote itself:
/// <c>PTXCompiledKernel</c>'s constructor and <c>CompiledKernel.EntryPoint</c> are internal, and are reached here by
/// <see cref="UnsafeAccessorAttribute"/>, bound by name; a test builds one without a GPU, so a version of ILGPU that renamed
/// them fails there.
/// </summary>
internal static class RewrittenKernels
{
    /// <summary>
    /// The explicitly grouped kernel <paramref name="method"/> compiled by <paramref name="backend"/>, slots rewritten, and
    /// retargeted to sm_90a where it has Hopper's warpgroup instructions (<paramref name="hopper"/>).
    /// </summary>
    public static PTXCompiledKernel Compile(Backend backend, MethodInfo method, KernelSpecialization specialization,
        bool hopper = false)
    {
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, specialization);
        string ptx = PtxLocalSlots.ToRegisters(compiled.PTXAssembly);
        return Create(compiled.Context, EntryPointOf(compiled), compiled.Info, hopper ? PtxTarget.Hopper(ptx) : ptx);
    }

    /// <summary>
    /// The launcher of the explicitly grouped kernel <paramref name="method"/> on <paramref name="accelerator"/>, on CUDA from
    /// its rewritten PTX, elsewhere (ILGPU's CPU accelerator) as ILGPU compiles it: a <typeparamref name="TDelegate"/> that
    /// takes the stream, the launch's configuration and the kernel's parameters. The kernel is the caller's to keep (ILGPU's
    /// cache does not hold it). <paramref name="hopper"/>: the kernel has warpgroup instructions (see <see cref="Compile"/>).
    /// </summary>
    public static TDelegate Load<TDelegate>(Accelerator accelerator, MethodInfo method, KernelSpecialization specialization,
        bool hopper = false)
        where TDelegate : Delegate
    {
        var backend = accelerator.GetBackend();
        var compiled = backend is PTXBackend
            ? Compile(backend, method, specialization, hopper)
            : backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), specialization);
        return accelerator.LoadKernel(compiled).CreateLauncherDelegate<TDelegate>();
    }

    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    private static extern PTXCompiledKernel Create(Context context, EntryPoint entryPoint, CompiledKernel.KernelInfo? info,
        string ptxAssembly);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_EntryPoint")]
    private static extern EntryPoint EntryPointOf(CompiledKernel kernel);
}
