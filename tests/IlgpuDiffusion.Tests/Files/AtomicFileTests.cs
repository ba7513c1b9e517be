using System.Diagnostics;
using IlgpuDiffusion.Files;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Files;

/// <summary>
/// <see cref="AtomicFile"/>: writes through symbolic links, refuses folders and special files, and removes the temporary files
/// of the same target that dead writers left while keeping those of live ones; <see cref="OutputPath"/> tells same files apart.
/// </summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    [SkippableFact]
    public void A_symbolic_link_is_written_through_and_stays_a_link()
    {
        string target = _temp.Write("real/report.json", "old"), link = _temp.File("report-link.json");
        File.CreateSymbolicLink(link, Path.GetRelativePath(_temp.Path, target));
        AtomicFile.WriteAllText(link, "new");
        Assert.Equal("new", File.ReadAllText(target));
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.True(OutputPath.SameFile(link, target));
        Assert.Equal(["real/report.json", "report-link.json"], _temp.AllFiles());
    }

    [SkippableFact]
    public void Folders_and_fifos_are_refused_and_left_as_they_are()
    {
        string folder = Directory.CreateDirectory(_temp.File("folder")).FullName;
        Assert.Contains("is a folder", Assert.Throws<IOException>(() => AtomicFile.WriteAllText(folder, "x")).Message);
        Skip.If(OperatingSystem.IsWindows(), "Unix special files.");
        string fifo = _temp.File("fifo");
        using (var mkfifo = Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
        Assert.Equal(FileKind.Fifo, FileKinds.Of(fifo));
        Assert.Contains("a FIFO", Assert.Throws<IOException>(() => AtomicFile.WriteAllText(fifo, "x")).Message);
        Assert.Equal(FileKind.Fifo, FileKinds.Of(fifo));
        Assert.Equal(FileKind.CharacterDevice, FileKinds.Of("/dev/null"));
        Assert.Equal(FileKind.Regular, FileKinds.Of(_temp.Write("plain.txt", "x")));
    }

    [Fact]
    public void A_write_removes_the_temporary_files_of_dead_writers_of_its_target_only()
    {
        string target = _temp.File("model.safetensors"), other = _temp.File("model.safetensors.old");
        int dead = ExitedProcessId();
        string deadWriters = Temporary(target, dead), reusedId = Temporary(target, Environment.ProcessId),
            liveWriter = Temporary(target, Environment.ProcessId), otherTarget = Temporary(other, dead),
            notOurs = _temp.Write("model.safetensors.backup.tmp", "x");
        File.SetLastWriteTimeUtc(reusedId, Process.GetCurrentProcess().StartTime.ToUniversalTime() - TimeSpan.FromHours(1));

        AtomicFile.WriteAllText(target, "weights");

        Assert.Equal("weights", File.ReadAllText(target));
        Assert.False(File.Exists(deadWriters));
        Assert.False(File.Exists(reusedId)); // written before this process started: a dead process had the same id
        Assert.True(File.Exists(liveWriter));
        Assert.True(File.Exists(otherTarget));
        Assert.True(File.Exists(notOurs));
    }

    [Fact]
    public void Same_file_follows_links_of_folders_and_ignores_dots()
    {
        string real = Directory.CreateDirectory(_temp.File("real")).FullName, alias = _temp.File("alias");
        Directory.CreateSymbolicLink(alias, real);
        Assert.True(OutputPath.SameFile(Path.Combine(alias, "x.txt"), Path.Combine(real, ".", "x.txt")));
        Assert.False(OutputPath.SameFile(Path.Combine(alias, "x.txt"), Path.Combine(real, "y.txt")));
    }

    private string Temporary(string target, int processId) =>
        _temp.Write(Path.GetFileName(target) + $".{processId}.{Guid.NewGuid():N}.tmp", "partial");

    /// <summary>The id of a process that has exited (a short child run to its end).</summary>
    private static int ExitedProcessId()
    {
        using var child = Process.Start(new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet",
            "--version")
        { RedirectStandardOutput = true })!;
        child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        return child.Id;
    }

    public void Dispose() => _temp.Dispose();
}
