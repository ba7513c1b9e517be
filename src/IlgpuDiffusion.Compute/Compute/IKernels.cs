namespace IlgpuDiffusion.Compute;

/// <summary>
/// The op contract: one method per layer and direction. Every backend implements all of
/// it (ILGPU kernels, SIMD CPU); the tests hold a scalar reference in double.
/// <para>
/// Conventions: inputs first, outputs last, sizes explicit. All tensors are dense
/// row-major fp32 unless stated. Gradients are prefixed <c>d</c>; parameter gradients
/// (<c>dWeight</c>, <c>dBias</c>, <c>dShift</c>, ...) and input gradients are
/// <b>accumulated</b> (<c>+=</c>) so that branches and micro-batches add up, unless a
/// parameter says otherwise. Calls are queued in order; results are visible after
/// <see cref="Device.Synchronize"/> or a copy to the host.
/// </para>
/// <para>
/// One partial file per op family, <c>IKernels.&lt;Family&gt;.cs</c>: Utility, MatMul, Embedding,
/// LayerNorm, Modulation, Activations, Dropout, Optimizer, Rotary, Attention, Losses (SUBS),
/// CrossEntropy (plain), Divergence, Rows, Sampling and TopK. Each backend implements a family in
/// the file of the same suffix (<c>CpuKernels.&lt;Family&gt;.cs</c>, <c>IlgpuKernels.&lt;Family&gt;.cs</c>);
/// <see cref="OpChecks"/> holds the argument checks they share.
/// </para>
/// </summary>
public partial interface IKernels
{
}
