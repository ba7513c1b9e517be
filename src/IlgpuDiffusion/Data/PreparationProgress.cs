using System.Diagnostics;
using Spectre.Console;

namespace IlgpuDiffusion.Data;

/// <summary>
/// Progress of corpus tokenization on the console (Spectre.Console): a bar over documents with
/// documents/s and tokens/s. Silent when disabled or when the console is not interactive (CI logs,
/// redirected output, tests).
/// </summary>
internal sealed class PreparationProgress
{
    private readonly ProgressTask? task;
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(100);

    private readonly Stopwatch clock = Stopwatch.StartNew();
    private TimeSpan lastRefresh;

    private PreparationProgress(ProgressTask? task) => this.task = task;

    /// <summary>Runs <paramref name="work"/>, which reports (documents done, tokens done) as it goes.</summary>
    public static void Run(bool show, string label, int totalDocuments, Action<PreparationProgress> work)
    {
        if (!show || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            work(new PreparationProgress(null));
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var progress = new PreparationProgress(context.AddTask(Markup.Escape(label), maxValue: totalDocuments));
                work(progress);
                progress.task!.StopTask();
            });
    }

    /// <summary>Shows how far tokenization got.</summary>
    public void Report(long documents, long tokens)
    {
        if (task is null) return;
        task.Value = documents;
        if (clock.Elapsed - lastRefresh < RefreshInterval && documents < task.MaxValue) return;
        lastRefresh = clock.Elapsed;
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        task.Description = $"Tokenizing: {documents / seconds:N0} docs/s, {tokens / seconds:N0} tokens/s";
    }
}
