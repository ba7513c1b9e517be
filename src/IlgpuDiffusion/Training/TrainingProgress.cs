namespace IlgpuDiffusion.Training;

/// <summary>
/// Where a training or distillation run stands; reported through <see cref="RunOptions.Progress"/> after every optimizer step.
/// </summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="FirstStep">The step this run started from (a resumed run starts past 0).</param>
/// <param name="LastStep">The step it runs to.</param>
/// <param name="Loss">Mean loss of the latest logged interval (NaN before the first log line).</param>
/// <param name="TokensPerSecond">Throughput of the latest logged interval (NaN before the first log line).</param>
/// <param name="Stage">What is running: "Training", or the distillation round, e.g. "Round 2/4".</param>
public readonly record struct TrainingProgress(long Step, long FirstStep, long LastStep, double Loss, double TokensPerSecond, string Stage);
