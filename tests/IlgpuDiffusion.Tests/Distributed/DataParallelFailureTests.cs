using System.Diagnostics;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Tests.Cli;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Distributed;

/// <summary>
/// How a data-parallel job ends when it cannot go on: a killed rank ends the others within a bounded time with a message and
/// leaves the last checkpoint loadable; settings the ranks cannot share are refused with an error, not a hang.
/// </summary>
[Collection(DataParallelJobs.Name)]
public sealed class DataParallelFailureTests(TinyCliRun run) : IClassFixture<TinyCliRun>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _temp = new();

    [SkippableFact]
    public void Killing_one_rank_ends_the_job_and_keeps_the_last_checkpoint()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        string checkpoint = _temp.File("job.safetensors");
        using CliProcess job = CliProcess.StartRanks(2, ["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", "100000",
            "--batch", "2", "--accumulation", "2", "--validation-interval", "100000", "--device", "cpu", "--checkpoint-interval", "1",
            "-o", checkpoint]);
        string first = _temp.File("job.step-000001.safetensors");
        var clock = Stopwatch.StartNew();
        while (!File.Exists(first))
        {
            Assert.False(job.HasExited, job.Output);
            Assert.True(clock.Elapsed < Bound, $"No checkpoint after {Bound}:\n{job.Output}");
            Thread.Sleep(100);
        }
        int rank1 = RankProcess(1, checkpoint);
        Process.GetProcessById(rank1).Kill();

        int exitCode = job.WaitForExit(Bound);
        Assert.NotEqual(0, exitCode);
        Assert.Matches("(?s)process rank 1 .*exited on signal 9|Rank 0 of 2 stopped by a signal", job.Output);
        string latest = Directory.GetFiles(_temp.Path, "job.step-*.safetensors")
            .Where(path => !path.EndsWith(".tmp", StringComparison.Ordinal)).OrderBy(path => path, StringComparer.Ordinal).Last();
        Assert.True(MdlmCheckpoint.ReadHeader(latest).State.Step >= 1);
    }

    [SkippableFact]
    public void An_accumulation_the_ranks_cannot_share_is_refused_on_every_rank()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        CliResult job = Mpirun.Run(2, ["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", "2", "--batch", "4",
            "--device", "cpu", "-o", _temp.File("job.safetensors")]);
        Assert.NotEqual(0, job.ExitCode);
        // Both ranks refuse; the first to end the job may stop the other before it prints.
        Assert.Matches(@"error: rank [01] of 2: A step of 1 micro-batch \(gradient accumulation\) cannot be shared by 2 ranks", job.Out);
        Assert.False(File.Exists(_temp.File("job.safetensors")));
    }

    [SkippableFact]
    public void Ranks_that_would_train_different_runs_are_refused()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        string[] Train(string steps) => ["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", steps, "--batch", "2",
            "--accumulation", "2", "--device", "cpu", "-o", _temp.File("job.safetensors")];
        using CliProcess job = CliProcess.StartRanks(Train("2"), Train("3"));
        Assert.NotEqual(0, job.WaitForExit(Bound));
        Assert.Contains("The run settings of rank 1 differ from rank 0's: every rank of a data-parallel job must run the same " +
            "command on the same data (this is rank ", job.Output);
        Assert.False(File.Exists(_temp.File("job.safetensors")));
    }

    [SkippableFact]
    public void Commands_that_cannot_share_work_refuse_to_run_as_copies()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        CliResult job = Mpirun.Run(2, ["sample", run.Checkpoint, "--steps", "2", "--device", "cpu"]);
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("mpirun started 2 copies of 'ilgpu-diffusion sample', which would each do the same work", job.Out);
    }

    /// <summary>The process id of rank <paramref name="rank"/> of the job writing <paramref name="checkpoint"/>.</summary>
    private static int RankProcess(int rank, string checkpoint)
    {
        foreach (string folder in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out int pid)) continue;
            try
            {
                string commandLine = File.ReadAllText(Path.Combine(folder, "cmdline"));
                if (!commandLine.Contains(checkpoint, StringComparison.Ordinal) || !commandLine.Contains("ilgpu-diffusion.dll")) continue;
                string environment = File.ReadAllText(Path.Combine(folder, "environ"));
                if (environment.Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (IOException)
            {
                // the process ended while we read it
            }
            catch (UnauthorizedAccessException)
            {
                // another user's process
            }
        }
        throw new InvalidOperationException($"No process of rank {rank} writes '{checkpoint}'.");
    }

    public void Dispose() => _temp.Dispose();
}
