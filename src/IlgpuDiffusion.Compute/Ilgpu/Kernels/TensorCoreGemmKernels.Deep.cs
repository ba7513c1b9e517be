using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// TF32 GEMMs whose stages hold 32 of k, two blocks of 16 laid out as the TF32 kernels' stages: the loop's fixed cost
// (barrier, stage switch, address steps, loop control) is shared by 64 HMMA instead of 32, as the BF16 kernels share it.
// 80 KB of dynamic shared memory, above the 48 KB a launch gets without opting in (TensorCoreGemm raises the kernels'
// limit through the CUDA driver, and runs the 16-deep kernels where it cannot). The two whose op(a) is line-contiguous
// have no launch bounds: at 128 registers ptxas spills in their loops, so they keep one block a multiprocessor.
internal static partial class TensorCoreGemmKernels
{
    /// <summary>k-blocks per stage of the deep TF32 kernels.</summary>
    public const int DeepBlocks = 2;

    /// <summary>TF32 in stages of 32 of k, op(a) k-contiguous, op(b) k-contiguous (c = a·bᵀ).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Tf32DeepABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32DeepProducts, KContiguous, KContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>TF32 in stages of 32 of k, op(a) k-contiguous, op(b) column-contiguous (c = a·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Tf32DeepAB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32DeepProducts, KContiguous, LineContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>TF32 in stages of 32 of k, op(a) row-contiguous, op(b) column-contiguous (c = aᵀ·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Tf32DeepAtB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32DeepProducts, LineContiguous, LineContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>TF32 in stages of 32 of k, op(a) row-contiguous, op(b) k-contiguous (aᵀ·b when b has one column).</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Tf32DeepAtBt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32DeepProducts, LineContiguous, KContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>The TF32 products, two k-blocks per stage.</summary>
    private readonly struct Tf32DeepProducts : IProducts
    {
        public bool Bf16 => false;

        public bool Copies => false;

        public int Blocks => DeepBlocks;

        public WarpAccumulators Accumulate(WarpAccumulators w, in StageFragments s, bool aK, bool bK) =>
            default(Tf32Products).Accumulate(w, s, aK, bK);
    }
}
