using System.Text;

namespace IlgpuDiffusion.Files;

/// <summary>
/// Writes files atomically: the content goes to a temporary file beside the target (named by
/// <see cref="TemporaryFiles.NameFor"/>), is flushed to disk and renamed over the target, so a reader sees the old file or the
/// new one, never half of one. A symbolic link is written through: its final target is replaced and the link stays. Folders
/// and special files (FIFOs, devices, sockets) are refused rather than replaced by a regular file. Each write first removes the
/// temporary files of the same target that dead processes left, and <see cref="AbandonWritesInProgress"/> lets a handler of
/// SIGINT or SIGTERM delete the temporary files of the writes in flight before the process ends.
/// </summary>
internal static class AtomicFile
{
    private const int BufferSize = 1 << 20;

    private static readonly Lock InProgressLock = new();
    private static readonly HashSet<string> InProgress = new(StringComparer.Ordinal);
    private static bool s_abandoned;

    /// <summary>
    /// Deletes the temporary files that dead processes left of <paramref name="path"/>, as a write of it would (for targets
    /// that are not written again, like step-numbered checkpoints).
    /// </summary>
    public static void RemoveStaleTemporaries(string path) => TemporaryFiles.RemoveStale(Target(path), IsInProgress);

    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, creating missing folders.</summary>
    /// <exception cref="IOException">The path names a folder or a special file, or writing failed.</exception>
    /// <exception cref="OperationCanceledException">The process is ending (<see cref="AbandonWritesInProgress"/> ran).</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string target = Target(path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        TemporaryFiles.RemoveStale(target, IsInProgress);
        string temporary = TemporaryFiles.NameFor(target);
        try
        {
            using (FileStream stream = Begin(temporary))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        finally
        {
            End(temporary);
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte order mark) to <paramref name="path"/>, atomically.</summary>
    public static void WriteAllText(string path, string text) => Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)));

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>, atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    /// <summary>
    /// The file a write to <paramref name="path"/> replaces: its full path, or the final target of a symbolic link there.
    /// </summary>
    /// <exception cref="IOException">That is a folder or a special file, or the links loop.</exception>
    public static string Target(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string target = new FileInfo(full).LinkTarget is null ? full : File.ResolveLinkTarget(full, returnFinalTarget: true)!.FullName;
        FileKind kind = FileKinds.Of(target);
        if (kind is FileKind.Missing or FileKind.Regular) return target;
        string what = target == full ? $"'{path}'" : $"'{path}' (a link to '{target}')";
        throw new IOException(kind == FileKind.Directory
            ? $"{what} is a folder; give a file path."
            : $"{what} is {FileKinds.Describe(kind)}, not a regular file; it is not replaced.");
    }

    /// <summary>
    /// For a handler of SIGINT or SIGTERM, just before the process ends: deletes the temporary files of the writes in flight
    /// (their targets keep their previous content) and refuses further writes.
    /// </summary>
    public static void AbandonWritesInProgress()
    {
        lock (InProgressLock)
        {
            s_abandoned = true;
            foreach (string temporary in InProgress)
            {
                try
                {
                    File.Delete(temporary);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The process ends either way; the next write of the target removes what is left.
                }
            }
        }
    }

    /// <summary>Creates the temporary file and registers it, in one step as far as <see cref="AbandonWritesInProgress"/> sees.</summary>
    private static FileStream Begin(string temporary)
    {
        lock (InProgressLock)
        {
            if (s_abandoned) throw new OperationCanceledException($"'{temporary}' is not written: the process is ending.");
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.Delete, BufferSize);
            InProgress.Add(temporary);
            return stream;
        }
    }

    /// <summary>Unregisters the temporary file and deletes it if the write failed before its rename.</summary>
    private static void End(string temporary)
    {
        lock (InProgressLock) InProgress.Remove(temporary);
        if (File.Exists(temporary)) File.Delete(temporary);
    }

    private static bool IsInProgress(string temporary)
    {
        lock (InProgressLock) return InProgress.Contains(temporary);
    }
}
