namespace IlgpuDiffusion.Sampling;

/// <summary>
/// The state of a running sampler after a step, as the streaming API yields it. One instance is reused for every
/// step of a run: read it before asking for the next one.
/// </summary>
public sealed class SamplingProgress
{
    private readonly int[] _ids;
    private readonly Action _readIds;
    private bool _idsUnread;

    /// <param name="ids">The sampler's host copy of the tokens, filled by <paramref name="readIds"/>.</param>
    /// <param name="readIds">Copies the device's tokens of the current step into <paramref name="ids"/> (waits for the device).</param>
    internal SamplingProgress(int[] ids, Action readIds, int batchSize, int length, int steps)
    {
        _ids = ids;
        _readIds = readIds;
        BatchSize = batchSize;
        Length = length;
        Steps = steps;
    }

    /// <summary>Steps done: 1..N after each step; N also for the final item.</summary>
    public int Step { get; internal set; }

    /// <summary>N.</summary>
    public int Steps { get; }

    /// <summary>The time reached, t_Step (ε after the last step).</summary>
    public double Time { get; internal set; }

    /// <summary>Model trunk passes so far.</summary>
    public int ForwardPasses { get; internal set; }

    /// <summary>Positions still masked.</summary>
    public int MaskedCount { get; internal set; }

    /// <summary>Tokens revealed by this step.</summary>
    public int Revealed { get; internal set; }

    /// <summary>Whether this is the finished result (after noise removal).</summary>
    public bool IsFinal { get; internal set; }

    /// <summary>Sequences.</summary>
    public int BatchSize { get; }

    /// <summary>Tokens per sequence.</summary>
    public int Length { get; }

    /// <summary>
    /// [BatchSize·Length] current ids; masked positions hold the model's MASK id. The first read after a step copies
    /// them from the device (a wait for it); a consumer that reads only the counts lets the run go on without one.
    /// </summary>
    public ReadOnlySpan<int> Ids
    {
        get
        {
            if (_idsUnread)
            {
                _readIds();
                _idsUnread = false;
            }
            return _ids;
        }
    }

    /// <summary>Marks the ids as those of a new step, read from the device when <see cref="Ids"/> is first asked for.</summary>
    internal void IdsChanged() => _idsUnread = true;
}
