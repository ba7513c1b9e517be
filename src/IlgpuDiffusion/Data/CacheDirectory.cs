using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Data;

/// <summary>Where the library keeps derived files (extracted corpora, prepared shards; the kernels' PTX in <c>kernels</c>).</summary>
public static class CacheDirectory
{
    /// <summary>Environment variable that overrides the default cache folder.</summary>
    public const string EnvironmentVariable = CacheRoot.EnvironmentVariable;

    /// <summary>
    /// The cache folder: <c>$ILGPUDIFFUSION_CACHE</c> when set; otherwise
    /// <c>%LOCALAPPDATA%\IlgpuDiffusion\Cache</c> on Windows, <c>~/Library/Caches/IlgpuDiffusion</c> on macOS,
    /// and <c>$XDG_CACHE_HOME/ilgpudiffusion</c> (default <c>~/.cache/ilgpudiffusion</c>) elsewhere.
    /// </summary>
    public static string Default => CacheRoot.Default;
}
