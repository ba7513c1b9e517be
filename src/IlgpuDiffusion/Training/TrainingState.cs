using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Training;

/// <summary>
/// Everything besides tensors that a training run needs to continue exactly where it stopped. All randomness
/// (data order, diffusion times, masks, dropout) is counter-based: fixed by the seed and the micro-batch counter,
/// so these few numbers are the whole random state.
/// </summary>
/// <param name="Step">Optimizer steps done (also Adam's bias-correction step count, unless a distillation round reset the
/// optimizer: see <see cref="Distillation.DistillationState.AdamSteps"/>).</param>
/// <param name="MicroBatches">Micro-batches done: the stream counter of times, masks and dropout.</param>
/// <param name="EmaUpdates">EMA updates done (n in the warm-up decay).</param>
/// <param name="DataPosition">Where the training batcher stands.</param>
/// <param name="Seed">The run's seed.</param>
public sealed record TrainingState(long Step, long MicroBatches, long EmaUpdates, BatcherPosition DataPosition, ulong Seed);
