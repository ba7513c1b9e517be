namespace IlgpuDiffusion.Compute;

/// <summary>
/// The Philox dropout mask of <see cref="IKernels.DropoutForward"/>: element i is kept when
/// <see cref="Philox.Uniform"/>(<paramref name="Seed"/>, <paramref name="Stream"/>, i) ≥ <paramref name="Probability"/>,
/// then scaled by 1/(1 − p). Ops that fuse a dropout take it to regenerate the same mask.
/// </summary>
/// <param name="Probability">p, in [0, 1).</param>
/// <param name="Seed">The run's dropout seed.</param>
/// <param name="Stream">The call's stream (one per dropout site and step).</param>
public readonly record struct DropoutMask(float Probability, ulong Seed, ulong Stream);
