namespace IlgpuDiffusion.Cli.Output;

/// <summary>
/// Estimates the time a run has left from the rate of the work done since this estimate first saw it: a run resumed at
/// step 900 of 1000 measures its rate over the steps it has run since, not over the 900 it was handed.
/// </summary>
/// <param name="clock">Where the time comes from (a fake one in tests).</param>
internal sealed class RemainingTime(TimeProvider clock)
{
    private long _firstDone = -1;
    private long _firstAt;

    /// <summary>The latest estimate, or null until some work has been done since the first report.</summary>
    public TimeSpan? Left { get; private set; }

    /// <summary>Records that <paramref name="done"/> of <paramref name="total"/> units are done now.</summary>
    public void Report(long done, long total)
    {
        long now = clock.GetTimestamp();
        if (_firstDone < 0 || done < _firstDone)
        {
            (_firstDone, _firstAt, Left) = (done, now, null);
            return;
        }
        long run = done - _firstDone;
        TimeSpan elapsed = clock.GetElapsedTime(_firstAt, now);
        if (run <= 0 || elapsed <= TimeSpan.Zero) return;
        double seconds = elapsed.TotalSeconds * Math.Max(0, total - done) / run;
        Left = TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2));
    }
}
