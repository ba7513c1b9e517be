using System.Globalization;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
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
        Show(console, "Training", work, task => new TrainingBar(task, TimeProvider.System),
            new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
            new TimeLeftColumn());

    /// <summary>Runs a corpus preparation, handing it the progress that moves a bar over its documents.</summary>
    public static T Preparation<T>(CliConsole console, Func<IProgress<PreparationProgress>?, T> work)
    {
        T result = default!;
        Show(console, "Tokenizing", progress => result = work(progress), task => new PreparationBar(task),
            new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn());
        return result;
    }

    /// <summary>
    /// Runs an evaluation, handing it the progress to report its stages to: on a terminal one bar per stage (loading, each
    /// model's sampling, scoring, ...) with counts and the time left; elsewhere the reports go to <paramref name="lines"/>.
    /// </summary>
    public static T Evaluation<T>(CliConsole console, Action<EvaluationProgress> lines, Func<Action<EvaluationProgress>, T> work)
    {
        if (!console.Interactive) return work(lines);
        T result = default!;
        AnsiConsole.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(),
            new CountColumn(), new ElapsedTimeColumn(), new TimeLeftColumn()).Start(context =>
        {
            var stages = new EvaluationBars(context, TimeProvider.System);
            result = work(stages.Report);
            stages.Finish();
        });
        return result;
    }

    /// <summary>
    /// Runs a count of units (a sampling's sequences × steps, kernels compiled) on the calling thread, handing it a callback
    /// for (units done, units in all) that moves a bar on standard error when that is a terminal (null elsewhere, so that
    /// logs and pipes get no progress lines); the bar is cleared when the work ends.
    /// </summary>
    public static T Counting<T>(CliConsole console, string label, Func<Action<long, long>?, T> work)
    {
        if (!console.ErrorInteractive) return work(null);
        T result = default!;
        CountDisplay(console).Start(context =>
        {
            ProgressTask task = context.AddTask(Markup.Escape(label), maxValue: 1);
            result = work(new CountBar(task, TimeProvider.System).Report);
            task.StopTask();
        });
        return result;
    }

    private static Progress CountDisplay(CliConsole console) => console.ErrorConsole.Progress().AutoClear(true).Columns(
        new TaskDescriptionColumn(), new ProgressBarColumn(), new CountColumn(), new ElapsedTimeColumn(), new TimeLeftColumn());

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

    /// <summary>
    /// A bar over optimizer steps showing the stage, the latest loss and throughput; its time left comes from the steps run
    /// since its first report, so a resumed run's earlier steps do not count as done in no time.
    /// </summary>
    internal sealed class TrainingBar : IProgress<TrainingProgress>
    {
        private readonly ProgressTask _task;
        private readonly TimeProvider _clock;
        private readonly RemainingTime _left;
        private readonly long _start;
        private TimeSpan _lastRefresh = -RefreshInterval;

        /// <summary>A bar moving <paramref name="task"/>, timed by <paramref name="clock"/>.</summary>
        public TrainingBar(ProgressTask task, TimeProvider clock)
        {
            _task = task;
            _clock = clock;
            _left = new RemainingTime(clock);
            _start = clock.GetTimestamp();
            task.Tag = _left;
        }

        /// <inheritdoc/>
        public void Report(TrainingProgress value)
        {
            _left.Report(value.Step, value.LastStep);
            _task.MaxValue = Math.Max(1, value.LastStep);
            _task.Value = value.Step;
            TimeSpan now = _clock.GetElapsedTime(_start);
            if (now - _lastRefresh < RefreshInterval && value.Step < value.LastStep) return;
            _lastRefresh = now;
            _task.Description = double.IsNaN(value.Loss)
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

    /// <summary>A bar over units of work (sequences × steps, tokens, ...) with its time left.</summary>
    private sealed class CountBar
    {
        private readonly ProgressTask _task;
        private readonly RemainingTime _left;

        public CountBar(ProgressTask task, TimeProvider clock)
        {
            _task = task;
            _left = new RemainingTime(clock);
            task.Tag = _left;
        }

        public void Report(long done, long total)
        {
            _left.Report(done, total);
            _task.MaxValue = Math.Max(1, total);
            _task.Value = done;
        }
    }

    /// <summary>One bar per evaluation stage: a report of a new stage (or model, or step count) finishes the previous bar.</summary>
    private sealed class EvaluationBars(ProgressContext context, TimeProvider clock)
    {
        private (string Stage, string Model, int? Steps)? _current;
        private ProgressTask? _task;
        private CountBar? _bar;

        public void Report(EvaluationProgress progress)
        {
            var key = (progress.Stage, progress.Model, progress.Steps);
            if (_current != key || _task is null)
            {
                Finish();
                string steps = progress.Steps is { } s ? string.Create(CultureInfo.InvariantCulture, $" at {s} steps") : "";
                _task = context.AddTask(Markup.Escape($"{progress.Stage}: {progress.Model}{steps}"), maxValue: 1);
                _bar = new CountBar(_task, clock);
                _current = key;
            }
            _bar!.Report(progress.Done, progress.Total);
        }

        public void Finish()
        {
            if (_task is null) return;
            _task.Value = _task.MaxValue;
            _task.StopTask();
        }
    }
}
