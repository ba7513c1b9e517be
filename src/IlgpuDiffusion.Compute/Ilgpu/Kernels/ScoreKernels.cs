using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Materialized attention scores of a round of heads: row r = z·Tokens + i holds the scores of item z's query i against
/// every key, <paramref name="Stride"/> floats apart (Tokens rounded up to 4, so rows start on 16 bytes for the GEMMs).
/// </summary>
/// <param name="Scale">1/√(head size): scores are scaled here, not in the GEMM.</param>
/// <param name="Causal">1: query i sees keys 0..i only.</param>
/// <param name="FirstHead">The round's first (sequence, head) pair: item z's log-sum-exp is that of pair FirstHead + z,
/// at [pair, Tokens].</param>
internal readonly record struct ScoreRows(int Tokens, int Stride, float Scale, int Causal, int FirstHead);

/// <summary>
/// The forward's row-wise step of attention over materialized scores (the GEMMs around it are the tensor-core GEMM's; the
/// backward's steps are epilogues of those, GemmEpilogue.Probabilities and ScoreGradients): softmax of scaled scores into
/// probabilities and their log-sum-exp. One group per row, threads striding the keys, deterministic shared-memory
/// reductions; each element is written by the thread that read it, after the row's reductions, so the probabilities
/// overwrite the scores in place. Columns past the row's keys are written 0.
/// </summary>
internal static class ScoreKernels
{
    /// <summary>
    /// scores[r, j] ← exp(Scale·scores[r, j] − lse_r) for the keys row r sees, 0 for the others; lse_r = log Σ_j
    /// exp(Scale·scores[r, j]) is written to <paramref name="logSumExp"/>. Grid: rows groups; shared Group.DimX floats.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Probabilities(ArrayView<float> scores, ArrayView<float> logSumExp, ScoreRows rows)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, z = row / rows.Tokens, i = row - z * rows.Tokens;
        long start = (long)row * rows.Stride, pair = (long)(rows.FirstHead + z) * rows.Tokens + i;
        int keys = rows.Causal != 0 ? i + 1 : rows.Tokens;
        float max = float.NegativeInfinity;
        for (int j = Group.IdxX; j < keys; j += Group.DimX) max = MathF.Max(max, rows.Scale * scores[start + j]);
        max = GroupReductions.Max(shared, max);
        float sum = 0f;
        for (int j = Group.IdxX; j < keys; j += Group.DimX) sum += MathF.Exp(rows.Scale * scores[start + j] - max);
        float lse = max + MathF.Log(GroupReductions.Sum(shared, sum));
        if (Group.IdxX == 0) logSumExp[pair] = lse;
        for (int j = Group.IdxX; j < rows.Stride; j += Group.DimX)
            scores[start + j] = j < keys ? MathF.Exp(rows.Scale * scores[start + j] - lse) : 0f;
    }
}
