using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Compiled kernels built from PTX text: the PTX that <see cref="PtxRewrite"/> changed, and the PTX that
/// <see cref="PtxCache"/> kept on disk. ILGPU 1.5.3 builds such a kernel only from PTX it wrote itself:
/// <c>PTXCompiledKernel</c>'s constructor and <c>CompiledKernel.EntryPoint</c> are internal, and are reached here by
/// <see cref="UnsafeAccessorAttribute"/>, bound by name; a test builds one without a GPU, so a version of ILGPU that renamed
/// them fails there.
/// </summary>
internal static class PtxKernels
{
    /// <summary>The kernel <paramref name="entry"/> compiled by <paramref name="backend"/>, its PTX then rewritten.</summary>
    public static PTXCompiledKernel Compile(PTXBackend backend, in EntryPointDescription entry, in KernelSpecialization specialization,
        PtxRewrite rewrite)
    {
        var compiled = (PTXCompiledKernel)backend.Compile(entry, specialization);
        if (rewrite == PtxRewrite.None) return compiled;
        string ptx = PtxLocalSlots.ToRegisters(compiled.PTXAssembly);
        return Create(compiled.Context, EntryPointOf(compiled), compiled.Info, rewrite == PtxRewrite.Hopper ? PtxTarget.Hopper(ptx) : ptx);
    }

    /// <summary>A compiled kernel of <paramref name="entryPoint"/> whose PTX is <paramref name="ptx"/>.</summary>
    public static PTXCompiledKernel Create(Context context, EntryPoint entryPoint, string ptx) =>
        Create(context, entryPoint, info: null, ptx);

    /// <summary>The entry point <paramref name="kernel"/> was compiled for (its shared memory, launch bounds and parameters).</summary>
    public static EntryPoint EntryPointOf(CompiledKernel kernel) => GetEntryPoint(kernel);

    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    private static extern PTXCompiledKernel Create(Context context, EntryPoint entryPoint, CompiledKernel.KernelInfo? info,
        string ptxAssembly);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_EntryPoint")]
    private static extern EntryPoint GetEntryPoint(CompiledKernel kernel);
}
