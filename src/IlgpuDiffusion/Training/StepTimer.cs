using System.Diagnostics;

namespace IlgpuDiffusion.Training;

/// <summary>
/// Times the optimizer steps between two log lines of a run, leaving out the pauses between <see cref="Pause"/> and
/// <see cref="Resume"/> (validation, checkpoints) so that ms/step and tokens/s measure training alone.
/// </summary>
internal sealed class StepTimer
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _excluded;
    private long _intervalStart;
    private long _pausedAt;

    /// <summary>Starts the first interval at <paramref name="step"/>.</summary>
    public StepTimer(long step) => _intervalStart = step;

    /// <summary>Ends the interval at <paramref name="step"/>: its steps and seconds (pauses left out); the next interval starts.</summary>
    public (long Steps, double Seconds) Lap(long step)
    {
        long steps = step - _intervalStart;
        double seconds = Math.Max((_clock.Elapsed - _excluded).TotalSeconds, 1e-9);
        _intervalStart = step;
        _excluded = TimeSpan.Zero;
        _clock.Restart();
        return (steps, seconds);
    }

    /// <summary>Starts a pause that the timings leave out.</summary>
    public void Pause() => _pausedAt = Stopwatch.GetTimestamp();

    /// <summary>Ends the pause started by <see cref="Pause"/>.</summary>
    public void Resume() => _excluded += Stopwatch.GetElapsedTime(_pausedAt);
}
