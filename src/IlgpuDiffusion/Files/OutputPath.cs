namespace IlgpuDiffusion.Files;

/// <summary>
/// Checks made before any long work that a command can write where it was asked, and whether an output is one of its inputs.
/// </summary>
internal static class OutputPath
{
    /// <summary>The most symbolic links <see cref="Canonical"/> follows, as Linux does.</summary>
    private const int MaxLinks = 40;

    /// <summary>
    /// Why <see cref="AtomicFile"/> could not write <paramref name="path"/> (a folder or special file there, a file where a folder
    /// of its path should be, a folder this user may not write), or null when it could.
    /// </summary>
    public static string? FileProblem(string path)
    {
        string target;
        try
        {
            target = AtomicFile.Target(path);
        }
        catch (IOException e)
        {
            return e.Message;
        }
        return FolderProblem(Path.GetDirectoryName(target)!);
    }

    /// <summary>
    /// Why files could not be written in the folder <paramref name="path"/>, made where missing (a file there or in place of one
    /// of its parents, a nearest existing parent this user may not write), or null when they could. Nothing is created.
    /// </summary>
    public static string? FolderProblem(string path)
    {
        string? existing = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        while (existing is not null && !Directory.Exists(existing))
        {
            if (File.Exists(existing)) return $"'{existing}' is a file, not a folder.";
            existing = Path.GetDirectoryName(existing);
        }
        return existing is null ? $"'{path}' has no existing folder above it." : WriteProblem(existing);
    }

    /// <summary>
    /// Whether <paramref name="first"/> and <paramref name="second"/> name the same file once made absolute and every symbolic
    /// link on their way is followed.
    /// </summary>
    public static bool SameFile(string first, string second) => string.Equals(Canonical(first), Canonical(second),
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>The absolute path of <paramref name="path"/> with every symbolic link of it (folders included) followed.</summary>
    public static string Canonical(string path) => Resolved(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)), MaxLinks);

    private static string Resolved(string full, int linksLeft)
    {
        string? parent = Path.GetDirectoryName(full);
        if (parent is null || linksLeft == 0) return full;
        string joined = Path.Combine(Resolved(parent, linksLeft), Path.GetFileName(full));
        if (new FileInfo(joined).LinkTarget is null) return joined;
        FileSystemInfo? target = File.ResolveLinkTarget(joined, returnFinalTarget: false);
        return target is null ? joined : Resolved(target.FullName, linksLeft - 1);
    }

    /// <summary>
    /// Creates and deletes a probe file in <paramref name="folder"/>: the one check that sees every reason a write fails.
    /// </summary>
    private static string? WriteProblem(string folder)
    {
        string probe = Path.Combine(folder, $".ilgpu-diffusion-write-check.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return $"'{folder}' is not writable (permission denied).";
        }
        catch (IOException e)
        {
            return $"'{folder}' is not writable ({e.Message.Split(" : '")[0].TrimEnd('.')}).";
        }
    }
}
