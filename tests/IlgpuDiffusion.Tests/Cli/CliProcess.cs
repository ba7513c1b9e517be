using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// The built tool as a child process (<c>dotnet ilgpu-diffusion.dll</c> from the test binaries' folder, where the CLI project
/// reference puts it), for what only a real process shows: signals and kills. Standard output and error are collected.
/// </summary>
internal sealed partial class CliProcess : IDisposable
{
    private const int SigInt = 2, SigTerm = 15;

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private CliProcess(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in arguments) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, line) => Append(line.Data);
        _process.ErrorDataReceived += (_, line) => Append(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The child's process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether the child has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts <c>ilgpu-diffusion <paramref name="args"/></c>.</summary>
    public static CliProcess Start(params string[] args) => new(Dotnet, [Tool, .. args], null);

    /// <summary>Starts <c>ilgpu-diffusion <paramref name="args"/></c> with <paramref name="environment"/> set for it.</summary>
    public static CliProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        new(Dotnet, [Tool, .. args], environment);

    /// <summary>
    /// Starts <c>ilgpu-diffusion <paramref name="args"/></c> as <paramref name="ranks"/> ranks of an Open MPI job
    /// (<see cref="Mpirun"/>: <c>mpirun -np N dotnet ilgpu-diffusion.dll …</c>); the child is mpirun itself.
    /// </summary>
    public static CliProcess StartRanks(int ranks, params string[] args) => StartRanks(ranks, new Dictionary<string, string>(), args);

    /// <summary>As <see cref="StartRanks(int, string[])"/>, with <paramref name="environment"/> set for every rank.</summary>
    public static CliProcess StartRanks(int ranks, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        new(Mpirun.Path ?? throw new InvalidOperationException(Mpirun.Missing),
            [.. Mpirun.Options, .. environment.Keys.SelectMany(name => new[] { "-x", name }), "-np",
                ranks.ToString(CultureInfo.InvariantCulture), Dotnet, Tool, .. args], environment);

    /// <summary>Starts a job whose rank r runs <c>ilgpu-diffusion <paramref name="argsPerRank"/>[r]</c> (mpirun's a : b form).</summary>
    public static CliProcess StartRanks(params string[][] argsPerRank)
    {
        var arguments = new List<string>(Mpirun.Options);
        foreach (string[] args in argsPerRank)
        {
            if (arguments.Count > Mpirun.Options.Length) arguments.Add(":");
            arguments.AddRange(["-np", "1", Dotnet, Tool, .. args]);
        }
        return new(Mpirun.Path ?? throw new InvalidOperationException(Mpirun.Missing), arguments, null);
    }

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    private static string Tool => Path.Combine(AppContext.BaseDirectory, "ilgpu-diffusion.dll");

    /// <summary>Kills the child at once (SIGKILL: no handler runs).</summary>
    public void Kill() => _process.Kill();

    /// <summary>Asks the child to terminate (SIGTERM).</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, SigTerm) != 0) throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed.");
    }

    /// <summary>Interrupts the child as Ctrl+C in its terminal would (SIGINT).</summary>
    public void Interrupt()
    {
        if (Kill(_process.Id, SigInt) != 0) throw new InvalidOperationException($"kill({_process.Id}, SIGINT) failed.");
    }

    /// <summary>Waits for the child to exit; returns its exit code.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) throw new TimeoutException($"The child did not exit in {timeout}:\n{Output}");
        _process.WaitForExit(); // drains the redirected streams
        return _process.ExitCode;
    }

    /// <summary>What the child wrote to standard output and error so far.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
