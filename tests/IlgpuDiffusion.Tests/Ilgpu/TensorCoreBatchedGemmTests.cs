using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The batched tensor-core GEMMs (<see cref="TensorCoreGemm.RunBatched"/>), emulated on ILGPU's CPU accelerator with warps
/// of 32, in the three layouts of attention over materialized scores: items of (sequence, head) pairs starting mid-sequence,
/// operands of interleaved heads [B, T, H, d] and a scratch of [items, T, S] score rows, against the product of rounded
/// inputs; the score epilogues of the attention backward on Q·Kᵀ and dO·Vᵀ (probabilities from per-row values, causal or
/// not, and score gradients from probabilities and row dots); nothing outside an item's result is written.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class TensorCoreBatchedGemmTests(TensorCoreGemmTests.Emulator emulator)
{
    private const int Sequences = 2, Heads = 3, First = 1, Items = 4;

    /// <summary>
    /// Layout, precision, tokens T, head size d, epilogue: heads of 18 put the interleaved operand's rows 54 floats apart,
    /// which loads per element; heads of 16, in 16-byte groups (score rows always are, T rounded up to 4). The kernels
    /// compile once, on the emulator's accelerator of the precision (about 10 s each); the attention tests run the other pairs.
    /// </summary>
    [Theory]
    [InlineData("ABt", "tf32", 37, 18, (int)GemmEpilogue.Product)]
    [InlineData("AB", "bf16", 40, 16, (int)GemmEpilogue.Product)]
    [InlineData("AtB", "bf16", 37, 18, (int)GemmEpilogue.Product)]
    [InlineData("ABt", "bf16", 37, 18, (int)GemmEpilogue.CausalProbabilities)]
    [InlineData("ABt", "tf32", 40, 16, (int)GemmEpilogue.Probabilities)]
    [InlineData("ABt", "tf32", 37, 18, (int)GemmEpilogue.ScoreGradients)]
    public void Each_item_gets_the_product_of_its_rounded_operands(string layout, string precision, int tokens, int headDim,
        int epilogueKind)
    {
        var epilogue = (GemmEpilogue)epilogueKind;
        var gemm = MatMulPrecisions.Parse(precision)!.Value;
        var (tensorCores, accelerator) = emulator.Gemm(gemm);
        Func<float, float> round = gemm == MatMulPrecision.Tf32 ? TensorCoreRounding.Tf32 : TensorCoreRounding.Bf16;
        int stride = (tokens + 3) & ~3, row = Heads * headDim;
        var interleaved = new BatchOffsets(tokens * row, headDim, 0);
        var scratch = new BatchOffsets(0, 0, tokens * stride);
        float[] heads = TestData.Random(Sequences * tokens * row, seed: 1), other = TestData.Random(heads.Length, seed: 2);
        float[] scores = TestData.Random(Items * tokens * stride, seed: 3);
        // Per-row values of every pair (a log-sum-exp or row dots) and probabilities laid out as the scores, for the epilogues.
        float[] rows = TestData.Random(Sequences * Heads * tokens, seed: 4), probabilities = TestData.Random(scores.Length, seed: 5);
        const float scale = 0.25f;
        // Element (i, j) of item z's operands and result, and the shape: c [m, n] = op(a) [m, k]·op(b) [k, n].
        double A(int z, int i, int k) => layout switch
        {
            "ABt" => round(heads[Place(z, i, k)]),
            "AB" => round(scores[(z * tokens + i) * stride + k]),
            _ => round(scores[(z * tokens + k) * stride + i]),
        };
        double B(int z, int k, int j) => layout == "ABt" ? round(other[Place(z, j, k)]) : round(other[Place(z, k, j)]);
        int Place(int z, int t, int col) => Pair(z).Sequence * tokens * row + t * row + Pair(z).Head * headDim + col;
        var (m, n, k) = layout == "ABt" ? (tokens, tokens, headDim) : (tokens, headDim, tokens);

        var c = Enumerable.Repeat(float.NaN, layout == "ABt" ? scores.Length : heads.Length).ToArray();
        using var aBuffer = accelerator.Allocate1D(layout == "ABt" ? heads : scores);
        using var bBuffer = accelerator.Allocate1D(other);
        using var cBuffer = accelerator.Allocate1D(c);
        using var rowBuffer = accelerator.Allocate1D(rows);
        using var probabilityBuffer = accelerator.Allocate1D(probabilities);
        var (strides, cRow, batch) = layout switch
        {
            "ABt" => ((row, 1, 1, row), stride, new GemmBatch(First, Heads, interleaved, interleaved, scratch)),
            "AB" => ((stride, 1, row, 1), row, new GemmBatch(First, Heads, scratch, interleaved, interleaved)),
            _ => ((1, stride, row, 1), row, new GemmBatch(First, Heads, scratch, interleaved, interleaved)),
        };
        tensorCores.RunBatched(aBuffer.View, bBuffer.View, cBuffer.View, m, n, k, strides, cRow, batch, Items, accumulate: false,
            epilogue == GemmEpilogue.Product ? null : new ScoreEpilogue(epilogue, rowBuffer.View, probabilityBuffer.View, scale));
        accelerator.Synchronize();
        float[] result = cBuffer.GetAsArray1D();

        var written = new bool[c.Length];
        for (int z = 0; z < Items; z++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double product = 0;
                    for (int kk = 0; kk < k; kk++) product += A(z, i, kk) * B(z, kk, j);
                    int index = layout == "ABt" ? (z * tokens + i) * stride + j : Place(z, i, j);
                    double rowValue = rows[(First + z) * tokens + i], expected = epilogue switch
                    {
                        GemmEpilogue.Product => product,
                        GemmEpilogue.ScoreGradients => probabilities[index] * (product - rowValue) * scale,
                        GemmEpilogue.CausalProbabilities when j > i => 0,
                        _ => Math.Exp(scale * product - rowValue),
                    };
                    written[index] = true;
                    Assert.True(Math.Abs(result[index] - expected) <= 2e-4 * Math.Max(1, Math.Abs(expected)),
                        $"item {z} ({i}, {j}): expected {expected}, got {result[index]}");
                }
        for (int i = 0; i < result.Length; i++)
            if (!written[i]) Assert.True(float.IsNaN(result[i]), $"element {i} outside the items' results was written");
    }

    /// <summary>Item z of the launch: pair First + z as (sequence, head).</summary>
    private static (int Sequence, int Head) Pair(int z) => ((First + z) / Heads, (First + z) % Heads);
}
