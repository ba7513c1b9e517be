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
                var arch = architecture == 80 ? CudaArchitecture.SM_80 : CudaArchitecture.SM_90;
                backend = new PTXBackend(_context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_78, nvvmAPI: null);
                _backends[architecture] = backend;
            }
            var entry = grouping == KernelGrouping.Explicit
                ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
                : EntryPointDescription.FromImplicitlyGroupedKernel(method);
            // launch bounds where the GEMMs load with them (TensorCoreGemm.LaunchBoundsFrom)
            var bounds = architecture >= 10 * TensorCoreGemm.LaunchBoundsFrom
                ? KernelRegistry.Specialization(method)
                : KernelSpecialization.Empty;
            ptx = ((PTXCompiledKernel)backend.Compile(entry, bounds)).PTXAssembly;
            _compiled[(method, architecture)] = ptx;
            return ptx;
        }
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
