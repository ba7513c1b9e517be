using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// A real <c>train</c> process interrupted: killed (SIGKILL) while it writes a step-numbered checkpoint every step, its temporary
/// file stays until the next step-numbered write removes it; terminated (SIGTERM) or interrupted (SIGINT, Ctrl+C), it stops after
/// its current step with a step-numbered checkpoint written, also when it would have written one only at its end. Either way the
/// checkpoint it leaves is whole and <c>--resume latest</c> continues it.
/// </summary>
public sealed class CheckpointInterruptionTests(TinyCliRun run) : IClassFixture<TinyCliRun>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private readonly TempDirectory _temp = new();

    [SkippableFact]
    public async Task A_killed_run_leaves_a_temporary_file_that_the_next_step_numbered_write_removes()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix signals.");
        string checkpoint = _temp.File("killed.safetensors");
        // The kill lands between two writes now and then; a few tries catch one in the middle of a write.
        for (int attempt = 0; attempt < 5 && Temporaries(checkpoint).Length == 0; attempt++)
        {
            using CliProcess child = StartWritingEveryStep(checkpoint);
            WaitForWriteInProgress(child, checkpoint);
            child.Kill();
            child.WaitForExit(Patience);
        }
        Assert.NotEmpty(Temporaries(checkpoint));

        await AssertResumesAndLeavesNoTemporaryFile(checkpoint);
    }

    [SkippableFact]
    public async Task Ctrl_c_stops_a_run_after_its_step_and_writes_the_checkpoint_it_would_only_have_written_at_the_end()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix signals.");
        string checkpoint = _temp.File("interrupted.safetensors");
        using (CliProcess child = CliProcess.Start(["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", "100000",
            "--batch", "4", "--log-interval", "1", "--validation-interval", "100000", "--device", "cpu", "-o", checkpoint]))
        {
            DateTime deadline = DateTime.UtcNow + Patience;
            while (!child.Output.Contains("step 3/100000", StringComparison.Ordinal))
            {
                if (child.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException($"No step 3:\n{child.Output}");
                Thread.Sleep(10);
            }
            Assert.Empty(StepCheckpoints.List(checkpoint)); // no checkpoint interval: before the signal, nothing is saved
            Assert.False(File.Exists(checkpoint));
            child.Interrupt();
            Assert.Equal(130, child.WaitForExit(Patience));
            Assert.Contains("Stopped by the signal; a step-numbered checkpoint holds the last finished step", child.Output);
        }
        Assert.False(File.Exists(checkpoint));
        Assert.InRange(MdlmCheckpoint.ReadHeader(StepCheckpoints.Latest(checkpoint)).State.Step, 3, 100000);

        await AssertResumesAndLeavesNoTemporaryFile(checkpoint);
    }

    [SkippableFact]
    public async Task A_terminated_run_stops_after_its_step_and_leaves_no_temporary_file()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix signals.");
        string checkpoint = _temp.File("terminated.safetensors");
        using (CliProcess child = StartWritingEveryStep(checkpoint))
        {
            WaitForWriteInProgress(child, checkpoint);
            child.Terminate();
            Assert.Equal(130, child.WaitForExit(Patience));
        }
        Assert.Empty(Temporaries(checkpoint));

        await AssertResumesAndLeavesNoTemporaryFile(checkpoint);
    }

    private CliProcess StartWritingEveryStep(string checkpoint) => CliProcess.Start(["train", "--data", run.Shards,
        .. TinyCliRun.Model, "--steps", "100000", "--batch", "4", "--checkpoint-interval", "1", "--log-interval", "1000",
        "--validation-interval", "100000", "--device", "cpu", "-o", checkpoint]);

    /// <summary>Waits until a step-numbered checkpoint exists and a temporary file of the next one is there.</summary>
    private static void WaitForWriteInProgress(CliProcess child, string checkpoint)
    {
        DateTime deadline = DateTime.UtcNow + Patience;
        while (!(StepCheckpoints.List(checkpoint).Count > 0 && Temporaries(checkpoint).Length > 0))
        {
            if (child.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"No checkpoint write seen in progress:\n{child.Output}");
            Thread.Sleep(1);
        }
    }

    /// <summary>
    /// Resumes the latest checkpoint for two more steps in-process (a step-numbered write, then the run file): it loads whole,
    /// and no temporary file of any checkpoint is left.
    /// </summary>
    private async Task AssertResumesAndLeavesNoTemporaryFile(string checkpoint)
    {
        long step = MdlmCheckpoint.ReadHeader(StepCheckpoints.Latest(checkpoint)).State.Step;
        CliResult resumed = await CliRunner.Run("train", "--data", run.Shards, "--resume", "latest", "-o", checkpoint, "--steps",
            (step + 2).ToString(System.Globalization.CultureInfo.InvariantCulture), "--checkpoint-interval", "1", "--device", "cpu");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(step + 2, MdlmCheckpoint.ReadHeader(checkpoint).State.Step);
        Assert.Empty(Temporaries(checkpoint));
    }

    /// <summary>The temporary files of the run file and of its step-numbered checkpoints.</summary>
    private static string[] Temporaries(string checkpoint)
    {
        string folder = Path.GetDirectoryName(checkpoint)!, name = Path.GetFileName(checkpoint);
        string stepNumbered = Path.GetFileNameWithoutExtension(checkpoint) + ".step-*" + Path.GetExtension(checkpoint) + ".*.tmp";
        return [.. Directory.GetFiles(folder, name + ".*.tmp"), .. Directory.GetFiles(folder, stepNumbered)];
    }

    public void Dispose() => _temp.Dispose();
}
