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
/// <param name="Tf32KeyBlocks">
/// Whether the TF32 attention backward's key pass owns 64 keys of a head of 64 with 4 warps (default: where the accelerator
/// lets it opt in to its shared memory, see <see cref="Kernels.TensorCoreAttentionBackwardKernels.KeyValueBlock"/>).
/// </param>
/// <param name="CopiesFrom">
/// The fewest rows and columns of a GEMM that reads copies of its operands, BF16 ones under bf16 and, where they are
/// pipelined, TF32 ones under tf32 (default
/// <see cref="TensorCoreGemm.DefaultCopiesFrom"/>; <see cref="int.MaxValue"/>: none does; tests take 1 for every product).
/// </param>
/// <param name="PipelinedCopies">
/// Whether GEMMs on copies stage their tiles through cp.async (<see cref="Kernels.TensorCoreGemmKernels.Bf16PipelinedABt"/>,
/// <see cref="Kernels.TensorCoreGemmKernels.Tf32PipelinedABt"/>: under tf32 only they take copies;
/// default: no, until a GPU has timed them beside the kernels that stage through registers).
/// </param>
/// <param name="PipelinedAttention">
/// Whether the BF16 attention of heads of 64 copies its tiles through cp.async: the forward its key tiles
/// (<see cref="Kernels.TensorCoreAttentionBf16Kernels.ForwardPipelined"/>, where the GPU lets it opt in to its 52 KB of
/// shared memory), the backward's key pass its query tiles
/// (<see cref="Kernels.TensorCoreAttentionBf16BackwardKernels.KeyValuePipelined"/>) and its dq pass its key tiles
/// (<see cref="Kernels.TensorCoreAttentionBf16BackwardKernels.QueryPipelined"/>); default: no, until a GPU has timed them
/// beside the kernels that stage through registers.
/// </param>
/// <param name="WarpgroupProducts">
/// Whether GEMMs on copies run on Hopper's warpgroup products, on a GPU of compute capability 9.0: BF16 ones
/// (<see cref="Kernels.TensorCoreGemmKernels.Bf16WarpgroupABt"/>) and TF32 ones on TF32 copies, which this turns on
/// (<see cref="Kernels.TensorCoreGemmKernels.Tf32WarpgroupABt"/>); default: no, until a GPU has checked and timed them.
/// </param>
internal readonly record struct KernelChoices(bool? DeepTf32 = null, bool? GemmLaunchBounds = null, bool? WarpRowSums = null,
    bool? Tf32KeyBlocks = null, int? CopiesFrom = null, bool? PipelinedCopies = null, bool? PipelinedAttention = null,
    bool? WarpgroupProducts = null);
