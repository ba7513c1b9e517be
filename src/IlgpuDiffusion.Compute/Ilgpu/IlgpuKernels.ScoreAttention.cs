using ILGPU;
using IlgpuDiffusion.Ilgpu.Kernels;
using ProbabilitiesLaunch = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, IlgpuDiffusion.Ilgpu.Kernels.ScoreRows>;

namespace IlgpuDiffusion.Ilgpu;

// Attention over materialized scores on the tensor-core GEMMs, for the heads that the flash kernels do not take (wider
// than 128 columns, or not a multiple of 8), and for the backward of heads of 72 to 128 (whose forward the wide-head flash
// kernels take) where the GPU refuses the shared memory of their flash backward, when the GEMMs run on tensor cores: for a
// round of (sequence, head) pairs at a
// time, each step one launch for the whole round (a batched GEMM, or a row kernel of ScoreKernels). Forward: S = Q·Kᵀ
// into a scratch of [pairs, T, T rounded up to 4], softmax in place (writing the log-sum-exp), O = P·V. Backward: P again
// from the log-sum-exp in the epilogue of Q·Kᵀ, dS = P ∘ (dP − rowsum(dO ∘ O))·scale in the epilogue of dP = dO·Vᵀ, then
// dV = Pᵀ·dO, dQ = dS·K, dK = dSᵀ·Q (7 GEMMs per pair in all, the scores computed twice). Deterministic: every GEMM
// writes each element once, in a fixed order. Costs T² floats of scratch per pair (two in the backward) and their
// traffic, which the flash kernels avoid.
internal sealed partial class IlgpuKernels
{
    private ProbabilitiesLaunch? _scoreProbabilities;

    /// <summary>
    /// Whether attention runs over materialized scores (the forward unless <see cref="WideHeadFragments.Fits"/>, the backward
    /// unless <see cref="WideFlashBackward"/>): the GEMMs run on tensor cores and the flash kernels for heads of up to 64 do
    /// not fit.
    /// </summary>
    private bool AttentionOverScores(int headDim) => _tensorCores is not null && !AttentionFragments.Fits(headDim);

    private void ScoreAttentionForward(ArrayView<float> qkv, ArrayView<float> output, ArrayView<float> logSumExp, int batch,
        int tokens, int heads, int headDim, bool causal)
    {
        var pairs = new ScorePairs(tokens, heads, headDim);
        var (q, k, v) = Slots(qkv, heads * headDim);
        int perRound = PairsPerRound(pairs.ScoreFloats, batch * heads, scratches: 1);
        var scores = Scratch(ref _scoreScratch, (long)perRound * pairs.ScoreFloats);
        for (int first = 0; first < batch * heads; first += perRound)
        {
            int count = Math.Min(perRound, batch * heads - first);
            Scores(pairs, q, k, scores, first, count);
            Probabilities(scores, logSumExp, pairs.Rows(first, causal), count * tokens);
            _tensorCores!.RunBatched(scores, v, output, tokens, headDim, tokens, (pairs.Stride, 1, pairs.Packed, 1), heads * headDim,
                pairs.Batch(first, pairs.Scratch, pairs.Qkv, pairs.Output), count, accumulate: false);
        }
    }

    private void ScoreAttentionBackward(ArrayView<float> dOutput, ArrayView<float> qkv, ArrayView<float> logSumExp,
        ArrayView<float> rowDot, ArrayView<float> dQkv, int batch, int tokens, int heads, int headDim, bool causal, bool accumulate)
    {
        var pairs = new ScorePairs(tokens, heads, headDim);
        var (q, k, v) = Slots(qkv, heads * headDim);
        var (dq, dk, dv) = Slots(dQkv, heads * headDim);
        int perRound = PairsPerRound(pairs.ScoreFloats, batch * heads, scratches: 2);
        long half = (long)perRound * pairs.ScoreFloats;
        var scratch = Scratch(ref _scoreScratch, 2 * half);
        var (probabilities, gradients) = (scratch.SubView(0, half), scratch.SubView(half, half));
        int o = heads * headDim;
        var tensorCores = _tensorCores!;
        float scale = 1f / MathF.Sqrt(headDim);
        var recompute = new ScoreEpilogue(causal ? GemmEpilogue.CausalProbabilities : GemmEpilogue.Probabilities, logSumExp,
            probabilities, scale);
        for (int first = 0; first < batch * heads; first += perRound)
        {
            int count = Math.Min(perRound, batch * heads - first);
            Scores(pairs, q, k, probabilities, first, count, recompute);
            tensorCores.RunBatched(dOutput, v, gradients, tokens, tokens, headDim, (o, 1, 1, pairs.Packed), pairs.Stride,
                pairs.Batch(first, pairs.Output, pairs.Qkv, pairs.Scratch), count, accumulate: false,
                new ScoreEpilogue(GemmEpilogue.ScoreGradients, rowDot, probabilities, scale));
            // dV = Pᵀ·dO, dQ = dS·K, dK = dSᵀ·Q: op(a) = Pᵀ or dSᵀ reads the scratch's rows as columns.
            tensorCores.RunBatched(probabilities, dOutput, dv, tokens, headDim, tokens, (1, pairs.Stride, o, 1), pairs.Packed,
                pairs.Batch(first, pairs.Scratch, pairs.Output, pairs.Qkv), count, accumulate);
            tensorCores.RunBatched(gradients, k, dq, tokens, headDim, tokens, (pairs.Stride, 1, pairs.Packed, 1), pairs.Packed,
                pairs.Batch(first, pairs.Scratch, pairs.Qkv, pairs.Qkv), count, accumulate);
            tensorCores.RunBatched(gradients, q, dk, tokens, headDim, tokens, (1, pairs.Stride, pairs.Packed, 1), pairs.Packed,
                pairs.Batch(first, pairs.Scratch, pairs.Qkv, pairs.Qkv), count, accumulate);
        }
    }

    /// <summary>scores_z [T, T] = Q_z·K_zᵀ for the round's pairs (unscaled), or what <paramref name="epilogue"/> makes of them.</summary>
    private void Scores(in ScorePairs pairs, ArrayView<float> q, ArrayView<float> k, ArrayView<float> scores, int first, int count,
        ScoreEpilogue? epilogue = null) =>
        _tensorCores!.RunBatched(q, k, scores, pairs.Tokens, pairs.Tokens, pairs.HeadDim, (pairs.Packed, 1, 1, pairs.Packed),
            pairs.Stride, pairs.Batch(first, pairs.Qkv, pairs.Qkv, pairs.Scratch), count, accumulate: false, epilogue);

    private void Probabilities(ArrayView<float> scores, ArrayView<float> logSumExp, ScoreRows rows, int rowCount)
    {
        _scoreProbabilities ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ScoreRows>>(ScoreKernels.Probabilities));
        _scoreProbabilities(_stream, _plan.Rows(rowCount), scores, logSumExp, rows);
    }

    /// <summary>
    /// Pairs of a round: as many as <see cref="LaunchPlan.ScoreScratchFloats"/> holds in <paramref name="scratches"/> score
    /// matrices each (at least one; the launches of a round queue behind the previous round's, so the scratch is reused
    /// safely).
    /// </summary>
    private int PairsPerRound(int scoreFloats, int pairs, int scratches) =>
        (int)Math.Clamp(_plan.ScoreScratchFloats / ((long)scratches * scoreFloats), 1, pairs);

    /// <summary>The layouts of one attention call's operands, as <see cref="GemmBatch"/> items of (sequence, head) pairs.</summary>
    private readonly struct ScorePairs
    {
        public ScorePairs(int tokens, int heads, int headDim)
        {
            (Tokens, Heads, HeadDim) = (tokens, heads, headDim);
            Packed = 3 * heads * headDim;
            Stride = (tokens + 3) & ~3;
            ScoreFloats = HostChecks.Product(tokens, Stride);
            Qkv = new BatchOffsets(HostChecks.Product(tokens, Packed), headDim, 0);
            Output = new BatchOffsets(HostChecks.Product(tokens, heads, headDim), headDim, 0);
            Scratch = new BatchOffsets(0, 0, ScoreFloats);
        }

        public int Tokens { get; }

        public int Heads { get; }

        public int HeadDim { get; }

        /// <summary>Floats between token rows of [.., T, 3, heads, headDim].</summary>
        public int Packed { get; }

        /// <summary>Floats between rows of a score matrix.</summary>
        public int Stride { get; }

        public int ScoreFloats { get; }

        /// <summary>A pair's q, k or v (from its slot's view) in [B, T, 3, heads, headDim].</summary>
        public BatchOffsets Qkv { get; }

        /// <summary>A pair's output or output gradient in [B, T, heads, headDim].</summary>
        public BatchOffsets Output { get; }

        /// <summary>A round's item in the scratch of score matrices.</summary>
        public BatchOffsets Scratch { get; }

        public GemmBatch Batch(int first, BatchOffsets a, BatchOffsets b, BatchOffsets c) => new(first, Heads, a, b, c);

        public ScoreRows Rows(int first, bool causal) => new(Tokens, Stride, 1f / MathF.Sqrt(HeadDim), causal ? 1 : 0, first);
    }
}
