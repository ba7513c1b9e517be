using System.Net.Sockets;
using System.Runtime.Versioning;
using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// Output paths are checked before any work: a folder where a file goes, a file where a folder goes (or as a parent), a folder
/// the user may not write, a special file (FIFO, socket, device) and one of the command's own inputs are each one usage error
/// line (exit code 2) with nothing run and nothing changed; a symbolic link is written through and stays a link.
/// </summary>
public sealed class CliOutputPathTests(TinyCliRun run) : IClassFixture<TinyCliRun>, IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task A_folder_where_a_file_goes_is_refused_before_any_work()
    {
        string folder = Directory.CreateDirectory(_temp.File("existing")).FullName;
        AssertRefusedUpFront(await Train("-o", folder), folder);
        AssertRefusedUpFront(await Train("-o", _temp.File("run.safetensors"), "--metrics", folder), folder);
        AssertRefusedUpFront(await Sample(run.Checkpoint, "-o", folder), folder);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }

    [Fact]
    public async Task A_file_where_a_folder_goes_or_as_a_parent_is_refused_before_any_work()
    {
        string file = _temp.Write("notes.txt", "not a folder");
        TinyCorpus.Write(_temp.File("corpus"), documents: 4);
        AssertRefusedUpFront(await Train("-o", Path.Combine(file, "run.safetensors")), file);
        AssertRefusedUpFront(await Sample(run.Checkpoint, "-o", Path.Combine(file, "deeper", "samples.txt")), file);
        AssertRefusedUpFront(await CliRunner.Run("distill", run.Checkpoint, "--data", run.Shards, "--device", "cpu", "-o", file), file);
        AssertRefusedUpFront(await CliRunner.Run("eval", run.Checkpoint, "--data", run.Shards, "--device", "cpu", "-o", file), file);
        AssertRefusedUpFront(await CliRunner.Run("demo", "--preset", "tiny", "--device", "cpu", "-o", file), file);
        AssertRefusedUpFront(await CliRunner.Run("prepare", _temp.File("corpus"), "-o", file), file);
        Assert.Equal("not a folder", File.ReadAllText(file));
    }

    [SkippableFact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_folder_without_write_permission_is_refused_before_any_work()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix permissions.");
        string locked = Directory.CreateDirectory(_temp.File("locked")).FullName;
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            Skip.If(CanCreateFileIn(locked), "This user writes regardless of permissions (root): nothing to check.");
            AssertRefusedUpFront(await Train("-o", Path.Combine(locked, "run.safetensors")), locked);
            AssertRefusedUpFront(await Sample(run.Checkpoint, "-o", Path.Combine(locked, "new", "samples.txt")), locked);
            AssertRefusedUpFront(await CliRunner.Run("eval", run.Checkpoint, "--data", run.Shards, "--device", "cpu",
                "-o", Path.Combine(locked, "eval")), locked);
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [SkippableFact]
    public async Task Fifos_sockets_and_devices_are_refused_and_left_as_they_are()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix special files.");
        string fifo = _temp.File("fifo"), socketPath = _temp.File("socket"), device = _temp.File("null-device");
        Skip.IfNot(Tool("mkfifo", fifo), "mkfifo is not available.");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        AssertRefusedUpFront(await Sample(run.Checkpoint, "-o", fifo), "FIFO");
        AssertRefusedUpFront(await Sample(run.Checkpoint, "-o", socketPath), "socket");
        AssertRefusedUpFront(await Train("-o", fifo), "FIFO");
        // A device node of its own (the null device's numbers) where this user may make one (root): /dev is never touched.
        if (Tool("mknod", device, "c", "1", "3")) AssertRefusedUpFront(await Sample(run.Checkpoint, "-o", device), "character device");
        foreach (string special in new[] { fifo, socketPath }.Concat(File.Exists(device) ? [device] : []))
            Assert.Equal(0, new FileInfo(special).Length);
    }

    [SkippableFact]
    public async Task A_symbolic_link_is_written_through_and_stays_a_link()
    {
        string target = _temp.Write("real/samples.txt", "old"), link = _temp.File("samples-link.txt");
        File.CreateSymbolicLink(link, target);
        CliResult result = await Sample(run.Checkpoint, "-o", link);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.NotEqual("old", File.ReadAllText(target));
        Assert.NotEmpty(File.ReadAllText(target));
    }

    [Fact]
    public async Task An_output_that_is_one_of_the_commands_inputs_is_refused()
    {
        string model = _temp.File("model.safetensors"), link = _temp.File("link.safetensors");
        File.Copy(run.Checkpoint, model);
        File.CreateSymbolicLink(link, model);
        byte[] before = File.ReadAllBytes(model);
        AssertRefusedUpFront(await Sample(model, "-o", model), model);
        AssertRefusedUpFront(await Sample(model, "-o", link), model);
        AssertRefusedUpFront(await Sample(link, "-o", Path.Combine(_temp.Path, ".", "model.safetensors")), model);
        Assert.Equal(before, File.ReadAllBytes(model));
        string checkpoint = _temp.File("run.safetensors");
        AssertRefusedUpFront(await Train("-o", checkpoint, "--metrics", checkpoint), checkpoint);
        AssertRefusedUpFront(await Train("--resume", model, "-o", _temp.File("next.safetensors"), "--metrics", link,
            "--steps", "2"), model);
        Assert.Equal(before, File.ReadAllBytes(model));
        string students = _temp.File("sdtt"), teacher = Path.Combine(students, "latest.safetensors");
        Directory.CreateDirectory(students);
        File.Copy(model, teacher);
        AssertRefusedUpFront(await CliRunner.Run("distill", teacher, "--data", run.Shards, "--device", "cpu", "-o", students), teacher);
        Assert.Equal(before, File.ReadAllBytes(teacher));
    }

    private Task<CliResult> Train(params string[] extra) => CliRunner.Run(["train", "--data", run.Shards,
        .. extra.Contains("--resume") ? [] : TinyCliRun.Model, "--batch", "4", "--validation-batches", "1", "--device", "cpu",
        .. extra.Contains("--steps") ? extra : [.. extra, "--steps", "1"]]);

    private static Task<CliResult> Sample(string model, params string[] extra) =>
        CliRunner.Run(["sample", model, "--steps", "2", "--batch", "1", "--device", "cpu", .. extra]);

    private static void AssertRefusedUpFront(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == CliApplication.UsageError, result.ToString());
        Assert.True(result.Out.Length == 0, result.ToString()); // nothing ran: no settings table, no log line
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }

    private static bool CanCreateFileIn(string folder)
    {
        try
        {
            File.WriteAllText(Path.Combine(folder, "probe"), "");
            File.Delete(Path.Combine(folder, "probe"));
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Runs a system tool; false when it is missing or fails (e.g. mknod without the right).</summary>
    private static bool Tool(string name, params string[] args)
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(name, args)
            {
                RedirectStandardError = true,
            })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    public void Dispose() => _temp.Dispose();
}
