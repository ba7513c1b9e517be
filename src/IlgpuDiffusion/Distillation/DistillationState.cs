namespace IlgpuDiffusion.Distillation;

/// <summary>
/// What a distillation checkpoint adds to the training state (global step, micro-batches, EMA updates, data position,
/// seed) to continue exactly and to be sampled from.
/// </summary>
/// <param name="CompletedRounds">Rounds finished: the teacher has been replaced this many times.</param>
/// <param name="SamplingSteps">
/// The sampling steps the student weights were distilled for at the last finished round, N₀/2^CompletedRounds
/// (N₀, the teacher's, before the first round ends).
/// </param>
/// <param name="AdamSteps">Adam's step count (behind the global step after an optimizer reset).</param>
public sealed record DistillationState(int CompletedRounds, int SamplingSteps, int AdamSteps);
