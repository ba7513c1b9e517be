using System.Runtime.CompilerServices;

namespace IlgpuDiffusion.Sampling;

public sealed partial class DiffusionSampler
{
    /// <summary>
    /// Samples like <see cref="Sample"/> (same ids for the same seed) and yields the partially denoised batch after
    /// every step, then once more after noise removal (<see cref="SamplingProgress.IsFinal"/>), e.g. for a live
    /// display. Steps run on the thread pool; the yielded object is reused, so read it before the next item.
    /// </summary>
    public async IAsyncEnumerable<SamplingProgress> StreamAsync(SamplingPrompt? prompt = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Enter();
        try
        {
            Begin(prompt, window: 0);
            for (int step = 0; step < Options.Steps; step++)
            {
                await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                int revealed = Step(step);
                yield return Report(step + 1, _grid.Time(step + 1), revealed, isFinal: false);
            }
            int masked = _maskedCount;
            Finish();
            yield return Report(Options.Steps, Options.Epsilon, masked - _maskedCount, isFinal: true);
        }
        finally { Exit(); }
    }

    private SamplingProgress Report(int step, double time, int revealed, bool isFinal)
    {
        ReadTokens();
        var progress = _progress;
        progress.Step = step;
        progress.Time = time;
        progress.Revealed = revealed;
        progress.ForwardPasses = _forwardPasses;
        progress.MaskedCount = _maskedCount;
        progress.IsFinal = isFinal;
        return progress;
    }
}
