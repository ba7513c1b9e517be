using System.Diagnostics;
using Spectre.Console;

namespace IlgpuDiffusion.Training;

/// <summary>
/// A progress bar over optimizer steps (Spectre.Console) showing the latest loss and throughput. Silent when
/// disabled or when the console is not interactive (CI logs, redirected output, tests), where the metrics
/// log lines are the record.
/// </summary>
public sealed class TrainingProgress
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(250);

    private readonly ProgressTask? task;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private TimeSpan lastRefresh;

    private TrainingProgress(ProgressTask? task) => this.task = task;

    /// <summary>A progress that shows nothing.</summary>
    public static TrainingProgress Silent { get; } = new(null);

    /// <summary>Runs <paramref name="work"/>, which reports after every step, under a bar from <paramref name="firstStep"/> to <paramref name="lastStep"/>.</summary>
    public static void Run(bool show, long firstStep, long lastStep, Action<TrainingProgress> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (!show || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            work(Silent);
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("Training", maxValue: Math.Max(1, lastStep));
                task.Value = firstStep;
                var progress = new TrainingProgress(task);
                work(progress);
                task.StopTask();
            });
    }

    /// <summary>Moves the bar to <paramref name="step"/> and shows <paramref name="label"/> with the latest loss and tokens/s.</summary>
    public void Report(long step, double loss, double tokensPerSecond, string label = "Training")
    {
        if (task is null) return;
        task.Value = step;
        if (clock.Elapsed - lastRefresh < RefreshInterval && step < task.MaxValue) return;
        lastRefresh = clock.Elapsed;
        task.Description = $"{label}: loss {loss:F3}, {tokensPerSecond:N0} tok/s";
    }
}
