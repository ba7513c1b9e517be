using System.Diagnostics;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Training;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>
/// Draws the library's progress reports as Spectre.Console progress bars on an interactive terminal (log lines written
/// through <see cref="ConsoleLineWriter"/> appear above the bar). Elsewhere (tests, pipes, CI logs) the work runs
/// without a bar and the log lines are the record.
/// </summary>
internal static class ProgressBars
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs a training or distillation run, handing it the progress that moves a bar over its optimizer steps.</summary>
    public static void Training(CliConsole console, Action<IProgress<TrainingProgress>?> work) =>
        Show(console, "Training", work, task => new TrainingBar(task),
            new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
            new RemainingTimeColumn());

    /// <summary>Runs a corpus preparation, handing it the progress that moves a bar over its documents.</summary>
    public static T Preparation<T>(CliConsole console, Func<IProgress<PreparationProgress>?, T> work)
    {
        T result = default!;
        Show(console, "Tokenizing", progress => result = work(progress), task => new PreparationBar(task),
            new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn());
        return result;
    }

    private static void Show<TReport>(CliConsole console, string label, Action<IProgress<TReport>?> work,
        Func<ProgressTask, IProgress<TReport>> bar, params ProgressColumn[] columns)
    {
        if (!console.Interactive)
        {
            work(null);
            return;
        }
        AnsiConsole.Progress().AutoClear(false).Columns(columns).Start(context =>
        {
            ProgressTask task = context.AddTask(label, maxValue: 1);
            work(bar(task));
            task.StopTask();
        });
    }

    /// <summary>A bar over optimizer steps showing the stage, the latest loss and throughput.</summary>
    private sealed class TrainingBar(ProgressTask task) : IProgress<TrainingProgress>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _lastRefresh = -RefreshInterval;

        public void Report(TrainingProgress value)
        {
            task.MaxValue = Math.Max(1, value.LastStep);
            task.Value = value.Step;
            if (_clock.Elapsed - _lastRefresh < RefreshInterval && value.Step < value.LastStep) return;
            _lastRefresh = _clock.Elapsed;
            task.Description = double.IsNaN(value.Loss)
                ? value.Stage
                : $"{value.Stage}: loss {value.Loss:F3}, {value.TokensPerSecond:N0} tok/s";
        }
    }

    /// <summary>A bar over a corpus's documents showing documents/s and tokens/s.</summary>
    private sealed class PreparationBar(ProgressTask task) : IProgress<PreparationProgress>
    {
        public void Report(PreparationProgress value)
        {
            task.MaxValue = Math.Max(1, value.TotalDocuments);
            task.Value = value.Documents;
            double seconds = Math.Max(value.Elapsed.TotalSeconds, 1e-9);
            task.Description = Markup.Escape($"Tokenizing {value.Source}: {value.Documents / seconds:N0} docs/s, " +
                $"{value.Tokens / seconds:N0} tokens/s");
        }
    }
}
