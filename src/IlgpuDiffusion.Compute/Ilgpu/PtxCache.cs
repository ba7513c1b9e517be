using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The PTX that ILGPU compiled for a kernel, kept on disk so that the next process loads it instead of compiling it again:
/// ILGPU takes half a second to a second a kernel (bench/results/kernel-cache-2core-avx512.md), which every run on a GPU
/// paid for the kernels it used before its first step. An entry is the PTX as loaded (after any <see cref="PtxRewrite"/>) and the
/// kernel's shared-memory needs, under a key of everything that shapes the PTX: the kernel method, its grouping and launch
/// bounds, the rewrite, the backend's architecture and PTX ISA, the context's code-generation settings, and the identity
/// of the assemblies that hold the kernels and the compiler (a rebuild of any is a new folder). An entry that fails its
/// checks (truncated, another key, a wrong hash) is compiled again and rewritten; entries are written whole under a
/// temporary name and renamed, so processes sharing the folder see whole files or none.
/// </summary>
internal sealed class PtxCache
{
    /// <summary>
    /// Environment variable that moves the kernel cache (a folder) or turns it off (<c>off</c>); by default it is the
    /// <c>kernels</c> folder of <see cref="CacheRoot.Default"/>.
    /// </summary>
    public const string EnvironmentVariable = "ILGPUDIFFUSION_KERNEL_CACHE";

    /// <summary>Folders of other builds kept beside this build's (the most recently written); older ones are deleted.</summary>
    public const int BuildsKept = 4;

    private const string Magic = "IlgpuDiffusion PTX cache 1";
    private const int BuildNameLength = 16;
    private static readonly Lazy<PtxCache?> DefaultCache = new(() => FromEnvironment(Environment.GetEnvironmentVariable));
    private readonly string _folder;
    private int _pruned;
    private long _hits, _misses;

    /// <summary>A cache whose entries for this build live in a folder under <paramref name="root"/>.</summary>
    public PtxCache(string root)
    {
        Root = Path.GetFullPath(root);
        _folder = Path.Combine(Root, BuildName());
    }

    /// <summary>The process's cache, or null where <see cref="EnvironmentVariable"/> turns it off.</summary>
    public static PtxCache? Default => DefaultCache.Value;

    /// <summary>The folder that holds a folder of entries per build.</summary>
    public string Root { get; }

    /// <summary>Kernels loaded from disk.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Kernels compiled (none on disk, or an entry that failed its checks).</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>The cache <paramref name="variable"/> (an environment reader) asks for, or null where it is off.</summary>
    internal static PtxCache? FromEnvironment(Func<string, string?> variable)
    {
        string? setting = variable(EnvironmentVariable);
        if (string.Equals(setting, "off", StringComparison.OrdinalIgnoreCase)) return null;
        return new PtxCache(string.IsNullOrWhiteSpace(setting) ? Path.Combine(CacheRoot.From(variable), "kernels") : setting);
    }

    /// <summary>
    /// The kernel <paramref name="entry"/> as <paramref name="compile"/> makes it for <paramref name="backend"/> with
    /// <paramref name="specialization"/> and <paramref name="rewrite"/>: from disk where an entry passes its checks, else
    /// compiled and written (a folder that cannot be written leaves the kernel compiled, not the process failed).
    /// </summary>
    public PTXCompiledKernel Get(PTXBackend backend, in EntryPointDescription entry, in KernelSpecialization specialization,
        PtxRewrite rewrite, Func<PTXCompiledKernel> compile)
    {
        string key = Key(backend, entry, specialization, rewrite);
        string path = Path.Combine(_folder, Hash(key) + ".ptx");
        if (Read(path, key) is { } stored)
        {
            Interlocked.Increment(ref _hits);
            return PtxKernels.Create(backend.Context, new EntryPoint(entry, stored.SharedMemory, specialization), stored.Ptx);
        }
        Interlocked.Increment(ref _misses);
        var compiled = compile();
        Write(path, key, compiled);
        return compiled;
    }

    /// <summary>
    /// The key of an entry: one line per thing that shapes the PTX. Kernels are named by their assembly's identity and
    /// metadata token, so the same method of another build is another kernel.
    /// </summary>
    internal static string Key(PTXBackend backend, in EntryPointDescription entry, in KernelSpecialization specialization,
        PtxRewrite rewrite)
    {
        var method = entry.MethodSource;
        var properties = backend.Context.Properties;
        return string.Join('\n',
            $"kernel {method.DeclaringType?.FullName}.{method.Name} {method.MetadataToken:x8} {Identity(method.Module.Assembly)}",
            $"index {entry.IndexType}",
            $"bounds {specialization.MaxNumThreadsPerGroup} {specialization.MinNumGroupsPerMultiprocessor}",
            $"rewrite {rewrite}",
            $"target {backend.Architecture} {backend.InstructionSet}",
            $"settings {properties.OptimizationLevel} {properties.InliningMode} {properties.MathMode} {properties.DebugSymbolsMode}" +
            $" {properties.EnableAssertions} {properties.EnableIOOperations} {properties.StaticFieldMode} {properties.ArrayMode}",
            $"compiler {Identity(typeof(Context).Assembly)} {Identity(typeof(global::ILGPU.Algorithms.XMath).Assembly)}");
    }

    /// <summary>This build's folder name: the kernels' and the compiler's assemblies, hashed.</summary>
    private static string BuildName() => Hash(string.Join('\n', Magic, Identity(typeof(PtxCache).Assembly),
        Identity(typeof(Context).Assembly), Identity(typeof(global::ILGPU.Algorithms.XMath).Assembly)))[..BuildNameLength];

    private static string Identity(Assembly assembly) => $"{assembly.GetName().Name} {assembly.ManifestModule.ModuleVersionId:N}";

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static (string Ptx, SharedMemorySpecification SharedMemory)? Read(string path, string key)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // absent, or deleted by another process's pruning
        }
        // magic, key (its lines escaped into one), shared memory, PTX hash, then the PTX
        string[] header = text.Split('\n', 5);
        if (header.Length != 5 || header[0] != Magic || header[1] != Escaped(key)) return null;
        string[] shared = header[2].Split(' ');
        if (shared.Length != 2 || !int.TryParse(shared[0], NumberStyles.None, CultureInfo.InvariantCulture, out int staticBytes) ||
            !bool.TryParse(shared[1], out bool dynamic) || header[3] != Hash(header[4]))
            return null;
        return (header[4], new SharedMemorySpecification(staticBytes, dynamic));
    }

    private void Write(string path, string key, PTXCompiledKernel compiled)
    {
        var shared = PtxKernels.EntryPointOf(compiled).SharedMemory;
        string text = string.Join('\n', Magic, Escaped(key),
            string.Create(CultureInfo.InvariantCulture, $"{shared.StaticSize} {shared.HasDynamicMemory}"),
            Hash(compiled.PTXAssembly), compiled.PTXAssembly);
        string temporary = $"{path}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(_folder);
            if (Interlocked.Exchange(ref _pruned, 1) == 0) Prune();
            File.WriteAllText(temporary, text, new UTF8Encoding(false));
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                // nothing more to undo: the kernel stays compiled in this process
            }
        }
    }

    /// <summary>
    /// Deletes the folders of builds other than this one (named as <see cref="BuildName"/> names them; nothing else under
    /// <see cref="Root"/> is touched), beyond the <see cref="BuildsKept"/> most recently written.
    /// </summary>
    private void Prune()
    {
        var others = new DirectoryInfo(Root).GetDirectories()
            .Where(d => d.Name.Length == BuildNameLength && d.Name.All(char.IsAsciiHexDigitLower) &&
                !string.Equals(d.FullName, _folder, StringComparison.Ordinal))
            .OrderByDescending(d => d.LastWriteTimeUtc)
            .Skip(BuildsKept);
        foreach (var folder in others)
        {
            try
            {
                folder.Delete(recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // another process may be reading it; a later run prunes it
            }
        }
    }

    private static string Escaped(string key) => key.Replace('\n', '|');
}
