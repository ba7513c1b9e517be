using IlgpuDiffusion.Distributed;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>
/// The data-parallel job a <c>train</c> or <c>distill</c> command joins when <c>mpirun</c> started it (docs/data-parallel.md):
/// rank 0 prints results, logs and writes checkpoints, the other ranks print only errors. A rank that fails prints its error
/// with its rank and ends every rank at once (MPI_Abort), so none waits for it in the next gradient sum. Signals end a rank at
/// once (mpirun sends them to every rank when one dies or the job is interrupted): a step cannot be finished without every
/// rank, so the checkpoints written so far are what a resume continues from.
/// </summary>
internal static class DataParallelJob
{
    private static readonly Lock Gate = new();
    private static DataParallelGroup? s_running;

    /// <summary>
    /// Runs <paramref name="command"/> with the group of this process (<see cref="DataParallelGroup.Single"/> outside mpirun) and
    /// the console its rank writes to; returns its exit code.
    /// </summary>
    public static int Run(CliConsole console, Func<DataParallelGroup, CliConsole, int> command)
    {
        using DataParallelGroup group = DataParallelGroup.FromEnvironment();
        if (group.Size == 1) return command(group, console);
        lock (Gate) s_running = group;
        try
        {
            if (group.IsRoot)
                console.Out.WriteLine($"Data parallel: {group.Size} ranks over {group.Transport}; each runs its share of every step's " +
                    "micro-batches, and rank 0 writes the logs, metrics and checkpoints.");
            return command(group, group.IsRoot ? console : console.WithoutResults());
        }
        catch (Exception e)
        {
            console.Error.WriteLine($"error: rank {group.Rank} of {group.Size}: {CliApplication.ErrorMessage(e)}");
            console.Error.WriteLine($"Rank {group.Rank} is ending every rank of the job; the checkpoints written so far are intact.");
            console.Error.Flush();
            group.Abort(CliApplication.Failure);
            throw;
        }
        finally
        {
            lock (Gate) s_running = null;
        }
    }

    /// <summary>Says, on a rank of a job of several, where the gradient sums run (GPU memory through NCCL, or the host).</summary>
    public static void PrintSums(CliConsole console, DataParallelGroup group)
    {
        if (group.Size > 1) console.Out.WriteLine($"Gradient sums run {group.GradientSums}.");
    }

    /// <summary>
    /// Marks the start of a training run that the first signal stops gracefully (<see cref="Interruption.BeginRun"/>), unless the
    /// run is one rank of several: then a signal ends it at once.
    /// </summary>
    public static IDisposable BeginStoppableRun(DataParallelGroup group) => group.Size > 1 ? new NothingToEnd() : Interruption.BeginRun();

    /// <summary>What a rank of a running job prints when a signal ends it, or null outside a data-parallel job.</summary>
    public static string? SignalNotice
    {
        get
        {
            lock (Gate)
                return s_running is { } group
                    ? $"Rank {group.Rank} of {group.Size} stopped by a signal: mpirun ends every rank when one fails or the job is " +
                        "interrupted. The checkpoints written so far are intact; continue with the same mpirun command plus " +
                        "--resume latest."
                    : null;
        }
    }

    private sealed class NothingToEnd : IDisposable
    {
        public void Dispose()
        {
        }
    }
}
