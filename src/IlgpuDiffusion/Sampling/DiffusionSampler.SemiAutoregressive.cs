using System.Diagnostics;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Sampling;

public sealed partial class DiffusionSampler
{
    /// <summary>
    /// Semi-autoregressive generation of sequences longer than the sampler's length L (MDLM's
    /// <c>sample_subs_guidance</c>): sample a window of L tokens, then repeatedly keep its last L − stride tokens as
    /// the fixed start of the next window, re-mask the tail and sample it, until <paramref name="totalLength"/> tokens
    /// exist. Earlier tokens never change; each window uses fresh random streams. The prompt applies to the first window.
    /// </summary>
    /// <param name="totalLength">Tokens per output sequence, at least L.</param>
    /// <param name="stride">New tokens per further window, in [1, L].</param>
    /// <returns>[BatchSize, totalLength] ids; <see cref="SamplingResult.ForwardPasses"/> counts every window's passes.</returns>
    /// <param name="cancellationToken">Stops the sampling between steps.</param>
    /// <param name="progress">Told after every denoising step, of every window, how many of the run's steps are done.</param>
    /// <exception cref="ArgumentOutOfRangeException">The total length is below L or the stride outside [1, L].</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public SamplingResult SampleLong(int totalLength, int stride, SamplingPrompt? prompt = null,
        CancellationToken cancellationToken = default, IProgress<SamplingStepCount>? progress = null)
    {
        if (totalLength < Length)
            throw new ArgumentOutOfRangeException(nameof(totalLength),
                $"Semi-autoregressive sampling makes at least one window of {Length} tokens; got a total length of {totalLength}.");
        if (stride < 1 || stride > Length)
            throw new ArgumentOutOfRangeException(nameof(stride), $"The stride must be in [1, {Length}]; got {stride}.");
        long start = Stopwatch.GetTimestamp();
        int batch = Options.BatchSize, keep = Length - stride;
        var steps = new WindowSteps(progress, Options.Steps * WindowCount(totalLength, stride));
        var output = new int[TokenRows.Of(batch, totalLength)];
        Enter();
        try
        {
            lock (_state)
            {
                Begin(prompt, window: 0);
                RunWindow(steps, cancellationToken);
                for (int b = 0; b < batch; b++)
                    _ids.AsSpan(b * Length, Length).CopyTo(output.AsSpan(b * totalLength));
                int passes = _forwardPasses;
                for (int produced = Length, window = 1; produced < totalLength; produced += stride, window++)
                {
                    for (int b = 0; b < batch; b++)
                    {
                        var row = _fixed.AsSpan(b * Length, Length);
                        _ids.AsSpan(b * Length + stride, keep).CopyTo(row);
                        row[keep..].Fill(-1);
                    }
                    _forwardPasses = 0;
                    BeginWindow(window);
                    RunWindow(steps, cancellationToken);
                    passes += _forwardPasses;
                    int take = Math.Min(stride, totalLength - produced);
                    for (int b = 0; b < batch; b++)
                        _ids.AsSpan(b * Length + keep, take).CopyTo(output.AsSpan(b * totalLength + produced));
                }
                return new SamplingResult(output, batch, totalLength, passes, Stopwatch.GetElapsedTime(start));
            }
        }
        finally { Exit(); }
    }

    /// <summary>Windows of semi-autoregressive sampling: the first of L tokens, then one per <paramref name="stride"/> more.</summary>
    /// <param name="totalLength">Tokens per output sequence, at least L.</param>
    /// <param name="stride">New tokens per further window, in [1, L].</param>
    public int WindowCount(int totalLength, int stride) => 1 + (Math.Max(0, totalLength - Length) + stride - 1) / stride;

    private void RunWindow(WindowSteps? steps, CancellationToken cancellationToken)
    {
        for (int step = 0; step < Options.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Step(step);
            steps?.Done();
        }
        Finish();
        ReadTokens();
    }

    /// <summary>Counts a run's steps over its windows for <see cref="SampleLong"/>'s progress.</summary>
    private sealed class WindowSteps(IProgress<SamplingStepCount>? progress, int total)
    {
        private int _done;

        public void Done() => progress?.Report(new SamplingStepCount(++_done, total));
    }
}
