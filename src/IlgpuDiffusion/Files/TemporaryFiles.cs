using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace IlgpuDiffusion.Files;

/// <summary>
/// The temporary files of <see cref="AtomicFile"/>: <c>{target}.{process id}.{32 hex digits}.tmp</c> beside the target, so that
/// a later write of the same target tells the file of a live writer from one that a killed process left behind.
/// </summary>
internal static partial class TemporaryFiles
{
    /// <summary>
    /// How much later than a file's last write a process must have started for the file not to be its own: process start
    /// times are known to about a second.
    /// </summary>
    private static readonly TimeSpan StartTimeSlack = TimeSpan.FromSeconds(2);

    /// <summary>A fresh temporary file name of <paramref name="target"/> for this process.</summary>
    public static string NameFor(string target) =>
        string.Create(CultureInfo.InvariantCulture, $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");

    /// <summary>
    /// Deletes the temporary files of <paramref name="target"/> whose writer is gone: no process has the id in the name, or the
    /// process that has it started after the file was last written (the id was reused). Files of this process's writes in
    /// flight (<paramref name="inProgress"/>) and files the user may not delete are left.
    /// </summary>
    public static void RemoveStale(string target, Func<string, bool> inProgress)
    {
        string folder = Path.GetDirectoryName(target)!, name = Path.GetFileName(target);
        if (!Directory.Exists(folder)) return;
        foreach (string file in Directory.EnumerateFiles(folder, name + ".*.tmp"))
        {
            Match match = Suffix().Match(Path.GetFileName(file)[name.Length..]);
            if (!match.Success || !int.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, out int writer)) continue;
            if (inProgress(file) || !WriterIsGone(file, writer)) continue;
            try
            {
                File.Delete(file);
            }
            catch (UnauthorizedAccessException)
            {
                // Another user's leftover in a shared folder: its owner's next write removes it.
            }
        }
    }

    private static bool WriterIsGone(string file, int processId)
    {
        try
        {
            using Process process = Process.GetProcessById(processId);
            return process.StartTime.ToUniversalTime() > File.GetLastWriteTimeUtc(file) + StartTimeSlack;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return true; // no such process, or it exited meanwhile
        }
        catch (Exception e) when (e is Win32Exception or NotSupportedException)
        {
            return false; // its start time cannot be read: keep the file
        }
    }

    [GeneratedRegex(@"^\.([0-9]{1,10})\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex Suffix();
}
