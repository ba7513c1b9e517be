using System.Runtime.CompilerServices;

namespace IlgpuDiffusion.Sampling;

public sealed partial class DiffusionSampler
{
    /// <summary>
    /// Samples like <see cref="Sample"/> (same ids for the same seed) and yields the partially denoised batch after
    /// every step, then once more after noise removal (<see cref="SamplingProgress.IsFinal"/>), e.g. for a live
    /// display. Steps run on the thread pool; the yielded object is reused, so read it before the next item. A step's
    /// tokens are read from the device only when its item's <see cref="SamplingProgress.Ids"/> are asked for: a consumer
    /// that reads the ids of the final item alone waits for the device once, as <see cref="Sample"/> does.
    /// </summary>
    public async IAsyncEnumerable<SamplingProgress> StreamAsync(SamplingPrompt? prompt = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Enter();
        try
        {
            lock (_state) Begin(prompt, window: 0);
            for (int step = 0; step < Options.Steps; step++)
            {
                await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                int revealed;
                lock (_state) revealed = Step(step);
                yield return Report(step + 1, _grid.Time(step + 1), revealed, isFinal: false);
            }
            int masked = _maskedCount;
            lock (_state)
            {
                Finish();
                ReadTokens();
            }
            yield return Report(Options.Steps, Options.Epsilon, masked - _maskedCount, isFinal: true);
        }
        finally { Exit(); }
    }

    /// <summary>A streamed item's read of the tokens; a step of the run waits for a read under way, and the other way round.</summary>
    private void ReadStreamedTokens()
    {
        lock (_state) ReadTokens();
    }

    private SamplingProgress Report(int step, double time, int revealed, bool isFinal)
    {
        var progress = _progress;
        progress.IdsChanged();
        progress.Step = step;
        progress.Time = time;
        progress.Revealed = revealed;
        progress.ForwardPasses = _forwardPasses;
        progress.MaskedCount = _maskedCount;
        progress.IsFinal = isFinal;
        return progress;
    }
}
