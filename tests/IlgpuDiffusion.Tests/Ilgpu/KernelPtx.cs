using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The PTX of the registered kernels for sm_80 and sm_90, each compiled once for every test of the <see cref="PtxCollection"/>
/// (a tensor-core kernel takes 5–10 s; the PTX tests and the SASS tests read the same ones). One isolated context (library
/// settings) and one PTX backend per architecture, at PTX ISA 7.8 (CUDA 11.8), the oldest that targets sm_90 and so one that
/// every ptxas from CUDA 11.8 on reads; ILGPU's instruction set changes only the module's <c>.version</c> line.
/// </summary>
public sealed class KernelPtx : IDisposable
{
    private readonly Context _context = IlgpuRuntime.CreateIsolated();
    private readonly Dictionary<int, PTXBackend> _backends = [];
    private readonly Dictionary<(MethodInfo, int), string> _compiled = [];
    private readonly Lock _gate = new();

    /// <summary>The PTX module of the kernel <paramref name="method"/> for sm_<paramref name="architecture"/> (80 or 90).</summary>
    internal string Of(MethodInfo method, KernelGrouping grouping, int architecture)
    {
        lock (_gate)
        {
            if (_compiled.TryGetValue((method, architecture), out string? ptx)) return ptx;
            if (!_backends.TryGetValue(architecture, out var backend))
            {
                backend = Backend(_context, architecture);
                _backends[architecture] = backend;
            }
            ptx = Compile(backend, method, grouping, architecture);
            _compiled[(method, architecture)] = ptx;
            return ptx;
        }
    }

    /// <summary>
    /// The PTX of the registered kernel <paramref name="name"/> of <paramref name="kernels"/> compiled first, in a context of
    /// its own, as a process compiles the first kernel it runs. In a shared context ILGPU reuses the IR of helpers that
    /// earlier kernels inlined, which changes a kernel's PTX with the kernels compiled before it: the BF16 attention forward
    /// took 126 registers compiled alone or after the training forward's kernels, 130 after this suite's others (more on
    /// the loop's cold paths, a few instructions on its hot one). Tests of a register count compile here; a compile costs
    /// the seconds a context's first one does.
    /// </summary>
    internal static string Fresh(Type kernels, string name, int architecture)
    {
        var (method, grouping) = KernelRegistry.All().Single(k => k.Method.DeclaringType == kernels && k.Method.Name == name);
        using var context = IlgpuRuntime.CreateIsolated();
        using var backend = Backend(context, architecture);
        return Compile(backend, method, grouping, architecture);
    }

    private static PTXBackend Backend(Context context, int architecture)
    {
        var arch = architecture == 80 ? CudaArchitecture.SM_80 : CudaArchitecture.SM_90;
        return new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_78, nvvmAPI: null);
    }

    private static string Compile(PTXBackend backend, MethodInfo method, KernelGrouping grouping, int architecture)
    {
        var entry = grouping == KernelGrouping.Explicit
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);
        // launch bounds where the GEMMs load with them (TensorCoreGemm.LaunchBoundsFrom)
        var bounds = architecture >= 10 * TensorCoreGemm.LaunchBoundsFrom
            ? KernelRegistry.Specialization(method)
            : KernelSpecialization.Empty;
        return ((PTXCompiledKernel)backend.Compile(entry, bounds)).PTXAssembly;
    }

    /// <summary>The PTX of the registered kernel <paramref name="name"/> of <paramref name="kernels"/>.</summary>
    internal string Of(Type kernels, string name, int architecture)
    {
        var (method, grouping) = KernelRegistry.All().Single(k => k.Method.DeclaringType == kernels && k.Method.Name == name);
        return Of(method, grouping, architecture);
    }

    public void Dispose()
    {
        foreach (var backend in _backends.Values) backend.Dispose();
        _context.Dispose();
    }
}

/// <summary>The tests that read the kernels' PTX, one at a time, sharing one <see cref="KernelPtx"/>.</summary>
[CollectionDefinition(Name)]
public sealed class PtxCollection : ICollectionFixture<KernelPtx>
{
    /// <summary>The collection name.</summary>
    public const string Name = "PTX";
}
