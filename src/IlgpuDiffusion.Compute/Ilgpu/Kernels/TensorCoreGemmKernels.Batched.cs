using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

// Batched GEMMs: one product per grid z, item z's operands where TensorCoreGemmArguments.Batch puts them (GemmBatch),
// c's rows CRowStride apart; never split over k, no bias. Their epilogues are the product or attention's score steps
// (GemmEpilogue.Probabilities, CausalProbabilities, ScoreGradients), whose per-row values come in the bias view.
// Separate kernels, so that the unbatched ones keep their registers (the items' offsets cost the TF32 kernels up to 9
// registers, which took them past the 128 that let two blocks share a multiprocessor). The layouts of attention over
// materialized scores: a·bᵀ (Q·Kᵀ, dO·Vᵀ), a·b (P·V, dS·K) and aᵀ·b (Pᵀ·dO, dSᵀ·Q).
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Batched TF32 c = a·bᵀ. Grid (⌈N/128⌉, ⌈M/128⌉, items) × 256 threads.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Tf32ABtBatched(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32Products, KContiguous, KContiguous, ItemsInZ>(a, b, bias, c, activation, g);

    /// <summary>Batched TF32 c = a·b.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Tf32ABBatched(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32Products, KContiguous, LineContiguous, ItemsInZ>(a, b, bias, c, activation, g);

    /// <summary>Batched TF32 c = aᵀ·b.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Tf32AtBBatched(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32Products, LineContiguous, LineContiguous, ItemsInZ>(a, b, bias, c, activation, g);

    /// <summary>Batched BF16 c = a·bᵀ.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Bf16ABtBatched(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16Products, KContiguous, KContiguous, ItemsInZ>(a, b, bias, c, activation, g);

    /// <summary>Batched BF16 c = a·b.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Bf16ABBatched(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16Products, KContiguous, LineContiguous, ItemsInZ>(a, b, bias, c, activation, g);

    /// <summary>Batched BF16 c = aᵀ·b.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Bf16AtBBatched(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16Products, LineContiguous, LineContiguous, ItemsInZ>(a, b, bias, c, activation, g);

    /// <summary>Whether a kernel is batched: a type, so the unbatched kernels compile without the items' offsets.</summary>
    private interface IBatching
    {
        bool HasItems { get; }
    }

    private readonly struct Unbatched : IBatching
    {
        public bool HasItems => false;
    }

    private readonly struct ItemsInZ : IBatching
    {
        public bool HasItems => true;
    }

    /// <summary>
    /// A batched launch's result at <paramref name="index"/> of its item's c (row <paramref name="row"/>, column
    /// <paramref name="col"/>): added to what is there when accumulating, then through the launch's epilogue.
    /// </summary>
    private static void StoreItem(in GemmOutput output, in TensorCoreGemmArguments g, int row, int col, long index, float value)
    {
        if (g.Accumulate != 0) value += output.C[index];
        int epilogue = g.Epilogue;
        if (epilogue != (int)GemmEpilogue.Product)
        {
            float rowValue = output.Bias[(long)(g.Batch.First + Grid.IdxZ) * g.M + row];
            value = epilogue == (int)GemmEpilogue.ScoreGradients ? output.Activation[index] * (value - rowValue) * g.Scale
                : epilogue == (int)GemmEpilogue.CausalProbabilities && col > row ? 0f
                : MathF.Exp(g.Scale * value - rowValue);
        }
        output.C[index] = value;
    }

    /// <summary>The view from a batch item's <paramref name="offset"/> on.</summary>
    private static ArrayView<float> Item(ArrayView<float> view, long offset) => view.SubView(offset, view.Length - offset);
}
