namespace IlgpuDiffusion.Training;

/// <summary>
/// The learning rate of each optimizer step, as Hugging Face's schedules that MDLM uses: the step index
/// s counts from 0, warm-up gives lr·s/warmup for s &lt; warmup (so the very first step has lr 0, as in
/// the reference), then constant lr or half a cosine down to 0 at <see cref="TrainingConfig.MaxSteps"/> (and 0 after it).
/// </summary>
internal sealed class LrSchedule(TrainingConfig config)
{
    private readonly TrainingConfig _config = config ?? throw new ArgumentNullException(nameof(config));

    /// <summary>The learning rate of optimizer step <paramref name="stepIndex"/> (0 for the first step).</summary>
    public double At(long stepIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepIndex);
        int warmup = _config.WarmupSteps;
        if (stepIndex < warmup) return _config.LearningRate * stepIndex / Math.Max(1, warmup);
        if (_config.Decay == LrDecay.Constant) return _config.LearningRate;
        double progress = Math.Min(1, (double)(stepIndex - warmup) / Math.Max(1, _config.MaxSteps - warmup));
        return _config.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
