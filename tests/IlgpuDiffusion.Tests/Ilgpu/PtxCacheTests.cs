using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The kernels' PTX kept on disk (<see cref="PtxCache"/>): a second cache on the same folder (as the next process makes)
/// loads what the first compiled, the same kernel in every part CUDA reads; what shapes the PTX keys its entry; an entry
/// that fails its checks is compiled again; old builds' folders are pruned and nothing else; a folder that cannot be
/// written costs the cache, not the kernel. On a GPU, a kernel loaded from disk runs.
/// </summary>
public sealed class PtxCacheTests : IDisposable
{
    private static readonly MethodInfo SumPartials = typeof(OptimizerKernels).GetMethod(nameof(OptimizerKernels.SumPartials))!;
    private static readonly MethodInfo Fill = typeof(UtilityKernels).GetMethod(nameof(UtilityKernels.Fill))!;
    private readonly Context _context = IlgpuRuntime.CreateIsolated();
    private readonly PTXBackend _backend;
    private readonly TempDirectory _folder = new();

    public PtxCacheTests() =>
        _backend = new PTXBackend(_context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80,
            CudaInstructionSet.ISA_78, nvvmAPI: null);

    [Fact]
    public void The_next_process_loads_the_kernel_the_first_compiled()
    {
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(SumPartials);
        var first = new PtxCache(_folder.Path);
        var compiled = first.Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None, () => Compile(entry));

        var next = new PtxCache(_folder.Path);
        var loaded = next.Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None,
            () => throw new InvalidOperationException("compiled again"));

        Assert.Equal((0, 1), (first.Hits, first.Misses));
        Assert.Equal((1, 0), (next.Hits, next.Misses));
        Assert.Equal(compiled.PTXAssembly, loaded.PTXAssembly);
        Assert.Equal(compiled.Name, loaded.Name);
        Assert.Equal(compiled.SourceMethod, loaded.SourceMethod);
        Assert.Equal(compiled.IndexType, loaded.IndexType);
        var shared = PtxKernels.EntryPointOf(compiled).SharedMemory;
        var sharedLoaded = PtxKernels.EntryPointOf(loaded).SharedMemory;
        Assert.True(shared.HasDynamicMemory);
        Assert.Equal((shared.StaticSize, shared.HasDynamicMemory), (sharedLoaded.StaticSize, sharedLoaded.HasDynamicMemory));
        Assert.Single(_folder.AllFiles());
    }

    [Fact]
    public void Launch_bounds_rewrites_grouping_and_the_target_are_entries_of_their_own()
    {
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(SumPartials);
        var bounds = new KernelSpecialization(128, 2);
        string[] keys =
        [
            PtxCache.Key(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None),
            PtxCache.Key(_backend, entry, bounds, PtxRewrite.None),
            PtxCache.Key(_backend, entry, KernelSpecialization.Empty, PtxRewrite.SlotsInRegisters),
            PtxCache.Key(_backend, EntryPointDescription.FromImplicitlyGroupedKernel(Fill), KernelSpecialization.Empty, PtxRewrite.None),
        ];
        using var hopper = new PTXBackend(_context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90,
            CudaInstructionSet.ISA_78, nvvmAPI: null);
        keys = [.. keys, PtxCache.Key(hopper, entry, KernelSpecialization.Empty, PtxRewrite.None)];
        Assert.Equal(keys.Length, keys.Distinct(StringComparer.Ordinal).Count());

        var cache = new PtxCache(_folder.Path);
        var bounded = cache.Get(_backend, entry, bounds, PtxRewrite.None, () => Compile(entry, bounds));
        cache.Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None, () => Compile(entry));
        Assert.Equal((0, 2), (cache.Hits, cache.Misses));
        Assert.Contains(".maxntid 128", bounded.PTXAssembly, StringComparison.Ordinal);
        Assert.Equal(bounds, new PtxCache(_folder.Path).Get(_backend, entry, bounds, PtxRewrite.None,
            () => throw new InvalidOperationException("compiled again")).Specialization);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("a changed instruction")]
    [InlineData("another key")]
    public void An_entry_that_fails_its_checks_is_compiled_again_and_rewritten(string damage)
    {
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(Fill);
        new PtxCache(_folder.Path).Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None, () => Compile(entry));
        string path = Directory.GetFiles(_folder.Path, "*.ptx", SearchOption.AllDirectories).Single();
        string text = File.ReadAllText(path);
        string[] lines = text.Split('\n');
        if (damage == "another key") lines[1] += " ";
        if (damage == "a changed instruction")
            lines = [.. lines.Select(l => l.Replace("st.global.f32", "st.global.u32", StringComparison.Ordinal))];
        File.WriteAllText(path, damage == "truncated" ? text[..(text.Length - 40)] : string.Join('\n', lines));
        Assert.NotEqual(text, File.ReadAllText(path));

        int compiles = 0;
        var again = new PtxCache(_folder.Path);
        var recompiled = again.Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None, () =>
        {
            compiles++;
            return Compile(entry);
        });

        Assert.Equal((1, 0, 1), (compiles, again.Hits, again.Misses));
        var reloaded = new PtxCache(_folder.Path).Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None,
            () => throw new InvalidOperationException("compiled again"));
        Assert.Equal(recompiled.PTXAssembly, reloaded.PTXAssembly);
    }

    [Fact]
    public void Old_builds_beyond_the_kept_few_are_pruned_and_nothing_else_is()
    {
        var start = DateTime.UtcNow.AddDays(-10);
        string[] builds = Enumerable.Range(0, PtxCache.BuildsKept + 3).Select(i => $"{i:x16}").ToArray();
        for (int i = 0; i < builds.Length; i++)
        {
            _folder.Write(Path.Combine(builds[i], "entry.ptx"), "old");
            Directory.SetLastWriteTimeUtc(_folder.File(builds[i]), start.AddHours(i));
        }
        _folder.Write(Path.Combine("notes", "mine.txt"), "kept");
        _folder.Write(Path.Combine("0123456789ABCDEF", "mine.txt"), "kept");

        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(Fill);
        new PtxCache(_folder.Path).Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None, () => Compile(entry));

        var left = Directory.GetDirectories(_folder.Path).Select(Path.GetFileName).ToHashSet();
        Assert.Equal(PtxCache.BuildsKept + 3, left.Count); // the newest others, this build's, and the two that are no build's
        Assert.All(builds[^PtxCache.BuildsKept..], b => Assert.Contains(b, left));
        Assert.All(builds[..^PtxCache.BuildsKept], b => Assert.DoesNotContain(b, left));
        Assert.Contains("notes", left);
        Assert.Contains("0123456789ABCDEF", left);
    }

    [Fact]
    public void A_cache_that_cannot_be_written_leaves_the_kernel_compiled()
    {
        string notAFolder = _folder.Write("file", "not a folder");
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(Fill);
        var cache = new PtxCache(notAFolder);

        var compiled = cache.Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None, () => Compile(entry));

        Assert.Contains("st.global", compiled.PTXAssembly, StringComparison.Ordinal);
        Assert.Equal((0, 1), (cache.Hits, cache.Misses));
        Assert.Equal(new[] { "file" }, _folder.AllFiles());
    }

    [Fact]
    public void Processes_that_write_the_same_entry_at_once_leave_a_whole_one()
    {
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(Fill);
        var compiled = Compile(entry);
        Parallel.For(0, 8, _ => new PtxCache(_folder.Path).Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None,
            () => compiled));

        var loaded = new PtxCache(_folder.Path).Get(_backend, entry, KernelSpecialization.Empty, PtxRewrite.None,
            () => throw new InvalidOperationException("compiled again"));
        Assert.Equal(compiled.PTXAssembly, loaded.PTXAssembly);
        Assert.Single(_folder.AllFiles()); // no temporary file left
    }

    [Fact]
    public void The_environment_moves_the_cache_or_turns_it_off()
    {
        string moved = _folder.File("moved");
        Assert.Null(PtxCache.FromEnvironment(Variables((PtxCache.EnvironmentVariable, "OFF"))));
        Assert.Equal(moved, PtxCache.FromEnvironment(Variables((PtxCache.EnvironmentVariable, moved)))!.Root);
        Assert.Equal(Path.Combine(_folder.Path, "kernels"),
            PtxCache.FromEnvironment(Variables((CacheRoot.EnvironmentVariable, _folder.Path)))!.Root);
        Assert.Equal(Path.Combine(_folder.Path, "xdg", "ilgpudiffusion", "kernels"),
            PtxCache.FromEnvironment(Variables(("XDG_CACHE_HOME", _folder.File("xdg"))))!.Root);
    }

    /// <summary>On a GPU: a kernel of each grouping runs alike compiled and loaded from disk.</summary>
    [SkippableFact]
    public void On_a_GPU_a_kernel_loaded_from_disk_runs_as_the_compiled_one()
    {
        Skip.If(!IlgpuRuntime.HasCuda, "No CUDA device: loading PTX runs on a machine with an NVIDIA GPU");
        using var accelerator = IlgpuRuntime.CreateAccelerator(Backend.Cuda, 0);
        using var partials = accelerator.Allocate1D(Enumerable.Range(1, 300).Select(i => (float)i).ToArray());
        using var results = accelerator.Allocate1D<float>(2);
        using var filled = accelerator.Allocate1D<float>(1000);
        for (int run = 0; run < 2; run++)
        {
            var cache = new PtxCache(_folder.Path); // the second is a later process's: it loads from disk
            var sum = KernelLoader.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int>>(
                accelerator, SumPartials, KernelSpecialization.Empty, cache);
            var fill = KernelLoader.Load<Action<AcceleratorStream, Index1D, ArrayView<float>, float>>(
                accelerator, Fill, KernelSpecialization.Empty, cache);
            sum(accelerator.DefaultStream, new KernelConfig(1, 128, SharedMemoryConfig.RequestDynamic<float>(128)),
                partials.View.AsContiguous(), results.View.SubView(run, 1).AsContiguous(), 300);
            fill(accelerator.DefaultStream, (int)filled.Length, filled.View.AsContiguous(), run + 0.5f);
            accelerator.Synchronize();
            Assert.Equal(run == 0 ? (0, 2) : (2, 0), (cache.Hits, cache.Misses));
            Assert.All(filled.GetAsArray1D(), x => Assert.Equal(run + 0.5f, x));
        }
        Assert.Equal([45150f, 45150f], results.GetAsArray1D());
    }

    public void Dispose()
    {
        _backend.Dispose();
        _context.Dispose();
        _folder.Dispose();
    }

    private PTXCompiledKernel Compile(in EntryPointDescription entry, KernelSpecialization specialization = default) =>
        PtxKernels.Compile(_backend, entry, specialization, PtxRewrite.None);

    private static Func<string, string?> Variables(params (string Name, string Value)[] set) =>
        name => set.FirstOrDefault(v => v.Name == name).Value;
}
