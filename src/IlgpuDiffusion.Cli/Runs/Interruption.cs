namespace IlgpuDiffusion.Cli.Runs;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM during a training, distillation or demo run: the first one stops the run after its current step,
/// once its resume checkpoint is written (<see cref="Token"/> is cancelled and the process keeps running); a second one, or
/// one outside such a run, ends the process at once. Program's signal handlers call <see cref="RequestStop"/>.
/// </summary>
internal static class Interruption
{
    /// <summary>The exit code of a run stopped by a signal (128 + SIGINT, as shells report it).</summary>
    public const int ExitCode = 130;

    private static readonly Lock Gate = new();
    private static CancellationTokenSource? s_run;
    private static string s_stopping = TrainingStopping;

    /// <summary>What a training, distillation or demo run does on the first signal.</summary>
    public const string TrainingStopping =
        "Stopping after this step and writing the checkpoint; press Ctrl+C again to quit at once.";

    /// <summary>Whether a run of this process was asked to stop (its <see cref="OperationCanceledException"/> is not an error).</summary>
    public static bool Stopped { get; private set; }

    /// <summary>Cancelled when the run in progress is asked to stop; <see cref="CancellationToken.None"/> outside runs.</summary>
    public static CancellationToken Token
    {
        get
        {
            lock (Gate) return s_run?.Token ?? CancellationToken.None;
        }
    }

    /// <summary>What the run in progress does on the first signal, for Program to print.</summary>
    public static string StoppingNotice
    {
        get
        {
            lock (Gate) return s_stopping;
        }
    }

    /// <summary>
    /// Marks the start of a run that stops gracefully, which <paramref name="stopping"/> describes; dispose the result when it ends.
    /// </summary>
    public static IDisposable BeginRun(string stopping = TrainingStopping)
    {
        lock (Gate)
        {
            s_run?.Dispose();
            s_run = new CancellationTokenSource();
            s_stopping = stopping;
            return new RunScope();
        }
    }

    /// <summary>
    /// Asks the run in progress to stop after its current step. Returns false, meaning "end the process now", when no run
    /// is in progress or one was already asked to stop.
    /// </summary>
    public static bool RequestStop()
    {
        lock (Gate)
        {
            if (s_run is null || s_run.IsCancellationRequested) return false;
            Stopped = true;
            s_run.Cancel();
            return true;
        }
    }

    private sealed class RunScope : IDisposable
    {
        public void Dispose()
        {
            lock (Gate)
            {
                s_run?.Dispose();
                s_run = null;
            }
        }
    }
}
