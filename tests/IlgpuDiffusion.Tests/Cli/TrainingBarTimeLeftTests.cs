using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Training;
using Spectre.Console;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

public sealed class TrainingBarTimeLeftTests
{
    /// <summary>A clock that moves only when told to.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = 1_000_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public override DateTimeOffset GetUtcNow() => new(_ticks, TimeSpan.Zero);

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private static TrainingProgress At(long step, long firstStep, long lastStep) =>
        new(step, firstStep, lastStep, Loss: 1.0, TokensPerSecond: 100, Stage: "train");

    [Fact]
    public void A_resumed_run_measures_its_rate_over_the_steps_run_in_this_process()
    {
        var clock = new ManualClock();
        var task = new ProgressTask(1, "Training", 1, true, clock);
        var bar = new ProgressBars.TrainingBar(task, clock);
        bar.Report(At(900, 900, 1000)); // resumed at step 900: no step of this process yet
        Assert.Null(TimeLeftColumn.Left(task));
        clock.Advance(TimeSpan.FromSeconds(2));
        bar.Report(At(901, 900, 1000));
        // One step in 2 s: the 99 steps left take 198 s, not the instant that 901 steps "done" in 2 s would suggest.
        Assert.InRange(Assert.NotNull(TimeLeftColumn.Left(task)).TotalSeconds, 197, 199);
        for (int step = 902; step <= 920; step++)
        {
            clock.Advance(TimeSpan.FromSeconds(2));
            bar.Report(At(step, 900, 1000));
        }
        // 20 steps in 40 s: the 80 steps left take 160 s (the 900 resumed steps did not run here).
        TimeSpan left = Assert.NotNull(TimeLeftColumn.Left(task));
        Assert.InRange(left.TotalSeconds, 159, 161);
        Assert.Equal("00:02:40", TimeLeftColumn.Text(task));
    }

    [Fact]
    public void A_new_run_estimates_from_its_own_steps_and_shows_nothing_when_finished()
    {
        var clock = new ManualClock();
        var task = new ProgressTask(1, "Training", 1, true, clock);
        var bar = new ProgressBars.TrainingBar(task, clock);
        bar.Report(At(0, 0, 100));
        Assert.Equal("--:--:--", TimeLeftColumn.Text(task));
        clock.Advance(TimeSpan.FromSeconds(10));
        bar.Report(At(50, 0, 100));
        Assert.Equal("00:00:10", TimeLeftColumn.Text(task));
        clock.Advance(TimeSpan.FromSeconds(10));
        bar.Report(At(100, 0, 100));
        task.StopTask();
        Assert.Equal("", TimeLeftColumn.Text(task));
    }
}
