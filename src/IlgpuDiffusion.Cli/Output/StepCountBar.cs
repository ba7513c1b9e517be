using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>Forwards a sampling run's step counts to a progress bar's (done, total) report, on the sampling thread.</summary>
internal sealed class StepCountBar(Action<long, long> report) : IProgress<SamplingStepCount>
{
    /// <inheritdoc/>
    public void Report(SamplingStepCount value) => report(value.Done, value.Total);
}
