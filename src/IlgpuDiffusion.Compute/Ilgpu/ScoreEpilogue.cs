using ILGPU;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// An epilogue of attention's score steps for <see cref="TensorCoreGemm.RunBatched"/> (see <see cref="GemmEpilogue"/>).
/// </summary>
/// <param name="Kind">Probabilities, CausalProbabilities or ScoreGradients (Product: none).</param>
/// <param name="Rows">The per-row values of every pair, [pairs, M]: the log-sum-exp, or the row dots D.</param>
/// <param name="Probabilities">For ScoreGradients, the probabilities laid out as c (items at c's offsets).</param>
/// <param name="Scale">The scores' factor, 1/√(head size).</param>
internal readonly record struct ScoreEpilogue(GemmEpilogue Kind, ArrayView<float> Rows, ArrayView<float> Probabilities, float Scale);
