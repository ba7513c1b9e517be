namespace IlgpuDiffusion.Compute;

/// <summary>
/// The folder under which the libraries keep derived files: the compute layer its kernels' PTX, the model layer its
/// extracted corpora and prepared shards (each in a folder of its own).
/// </summary>
internal static class CacheRoot
{
    /// <summary>Environment variable that overrides the default folder.</summary>
    public const string EnvironmentVariable = "ILGPUDIFFUSION_CACHE";

    /// <summary>The folder for this process's environment (see <see cref="From"/>).</summary>
    public static string Default => From(Environment.GetEnvironmentVariable);

    /// <summary>
    /// The folder <paramref name="variable"/> (an environment reader) gives: <c>$ILGPUDIFFUSION_CACHE</c> when set;
    /// otherwise <c>%LOCALAPPDATA%\IlgpuDiffusion\Cache</c> on Windows, <c>~/Library/Caches/IlgpuDiffusion</c> on macOS,
    /// and <c>$XDG_CACHE_HOME/ilgpudiffusion</c> (default <c>~/.cache/ilgpudiffusion</c>) elsewhere.
    /// </summary>
    public static string From(Func<string, string?> variable)
    {
        string? overridden = variable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(overridden)) return Path.GetFullPath(overridden);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (OperatingSystem.IsWindows())
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "IlgpuDiffusion", "Cache");
        if (OperatingSystem.IsMacOS()) return Path.Combine(home, "Library", "Caches", "IlgpuDiffusion");
        string? xdg = variable("XDG_CACHE_HOME");
        return Path.Combine(string.IsNullOrWhiteSpace(xdg) ? Path.Combine(home, ".cache") : xdg, "ilgpudiffusion");
    }
}
