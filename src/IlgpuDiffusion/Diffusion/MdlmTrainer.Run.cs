using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Diffusion;

public sealed partial class MdlmTrainer
{
    /// <summary>The latest validation <see cref="Run"/> made (null before the first).</summary>
    public ValidationMetrics? LastValidation { get; private set; }

    Device ITrainingSteps.Device => _model.Device;

    DataParallelGroup ITrainingSteps.Group => _run.Group;

    double ITrainingSteps.FlopsPerToken => _model.Config.TrainingFlopsPerToken(_trainData.SequenceLength);

    /// <summary>
    /// Trains until <see cref="Step"/> reaches <paramref name="untilStep"/>: logs the mean loss, gradient norm, lr,
    /// ms/step, tokens/s (and MFU when <see cref="TrainingConfig.PeakFlops"/> is set) every
    /// <see cref="TrainingConfig.LogInterval"/> steps with the first block's attention entropy of masked queries
    /// (<see cref="Models.MaskedAttentionEntropy"/>), validates the EMA weights at the end and every
    /// <see cref="TrainingConfig.ValidationInterval"/> steps, writes checkpoints and reports progress as
    /// <paramref name="options"/> asks. Validation and checkpoint time is left out of the step timings.
    /// </summary>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancellationToken"/> was cancelled; the run stops between steps after writing its resume checkpoint.
    /// </exception>
    public void Run(long untilStep, MdlmTrainingRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MdlmTrainingRunOptions();
        ValidationPerplexity? validation = options.Validation;
        TrainingLoop.Run(this, untilStep, options, new TrainingLoopHooks
        {
            Validate = validation is null ? null : step => LastValidation = validation.Evaluate(Ema.Weights, step),
            Describe = metrics => metrics with
            {
                MaskedAttentionEntropy = _attentionEntropy.Measure(_activations, _batch.Corrupted.NoisyIds),
            },
        }, cancellationToken);
    }
}
