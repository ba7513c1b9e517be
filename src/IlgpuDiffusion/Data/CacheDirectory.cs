namespace IlgpuDiffusion.Data;

/// <summary>Where the library keeps derived files (extracted corpora, prepared shards).</summary>
public static class CacheDirectory
{
    /// <summary>Environment variable that overrides the default cache folder.</summary>
    public const string EnvironmentVariable = "ILGPUDIFFUSION_CACHE";

    /// <summary>
    /// The cache folder: <c>$ILGPUDIFFUSION_CACHE</c> when set; otherwise
    /// <c>%LOCALAPPDATA%\IlgpuDiffusion\Cache</c> on Windows, <c>~/Library/Caches/IlgpuDiffusion</c> on macOS,
    /// and <c>$XDG_CACHE_HOME/ilgpudiffusion</c> (default <c>~/.cache/ilgpudiffusion</c>) elsewhere.
    /// </summary>
    public static string Default
    {
        get
        {
            string? overridden = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(overridden)) return Path.GetFullPath(overridden);
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (OperatingSystem.IsWindows())
                return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "IlgpuDiffusion", "Cache");
            if (OperatingSystem.IsMacOS()) return Path.Combine(home, "Library", "Caches", "IlgpuDiffusion");
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            return Path.Combine(string.IsNullOrWhiteSpace(xdg) ? Path.Combine(home, ".cache") : xdg, "ilgpudiffusion");
        }
    }
}
