namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Which of the ILGPU backend's alternative kernels a device runs, each null for the default the accelerator gets; tests
/// and <c>bench --gemm</c> name them to run or time the others.
/// </summary>
/// <param name="DeepTf32">Whether TF32 GEMMs take stages of 32 of k (default: where the accelerator lets them).</param>
/// <param name="GemmLaunchBounds">
/// Whether the tensor-core GEMMs and the BF16 attention forward load with their launch bounds (default: on compute
/// capability 9.0 and newer, see <see cref="TensorCoreGemm.LaunchBoundsFrom"/>).
/// </param>
/// <param name="WarpRowSums">Whether normalization rows sum by warp shuffles (default: where the accelerator has them).</param>
internal readonly record struct KernelChoices(bool? DeepTf32 = null, bool? GemmLaunchBounds = null, bool? WarpRowSums = null);
