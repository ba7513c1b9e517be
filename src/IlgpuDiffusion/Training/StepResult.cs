namespace IlgpuDiffusion.Training;

/// <summary>The outcome of one optimizer step.</summary>
/// <param name="Step">Optimizer steps done after it.</param>
/// <param name="Loss">The objective's loss, averaged over the step's micro-batches.</param>
/// <param name="GradientNorm">Global gradient L2 norm before clipping.</param>
/// <param name="LearningRate">The step's learning rate.</param>
public readonly record struct StepResult(long Step, double Loss, double GradientNorm, double LearningRate);
