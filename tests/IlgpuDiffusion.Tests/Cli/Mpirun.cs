namespace IlgpuDiffusion.Tests.Cli;

/// <summary>Open MPI's launcher, as the data-parallel tests start jobs with it (CI installs Debian's openmpi-bin).</summary>
internal static class Mpirun
{
    /// <summary>Why a test that needs mpirun cannot run.</summary>
    public const string Missing = "mpirun (Open MPI) is not installed: apt-get install openmpi-bin";

    /// <summary>The launcher on PATH, or null.</summary>
    public static string? Path { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Select(folder => System.IO.Path.Combine(folder, "mpirun"))
        .FirstOrDefault(File.Exists);

    /// <summary>
    /// The options of a job on this machine: more ranks than cores are allowed, and so is
    /// root (CI runs as root); ranks waiting in a sum yield their core, and shared-memory transfers do not need ptrace, which
    /// containers often forbid.
    /// </summary>
    public static string[] Options { get; } =
        ["--allow-run-as-root", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", "--mca", "btl_vader_single_copy_mechanism", "none"];

    /// <summary>
    /// Runs <c>ilgpu-diffusion <paramref name="args"/></c> as <paramref name="ranks"/> ranks and waits (5 minutes at most); mpirun
    /// merges the ranks' streams, so the result's output and error both hold everything.
    /// </summary>
    public static CliResult Run(int ranks, params string[] args) => Run(ranks, new Dictionary<string, string>(), args);

    /// <summary>As <see cref="Run(int, string[])"/>, with <paramref name="environment"/> set for every rank.</summary>
    public static CliResult Run(int ranks, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        using CliProcess job = CliProcess.StartRanks(ranks, environment, args);
        int exitCode = job.WaitForExit(TimeSpan.FromMinutes(5));
        return new CliResult(exitCode, job.Output, job.Output);
    }
}
