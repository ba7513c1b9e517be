using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

public sealed partial class Gpt
{
    /// <summary>
    /// Called with each block's index as soon as a backward pass has finished that block's gradients (last block first), so a
    /// data-parallel trainer can start summing them while the earlier blocks' backward runs; null for none.
    /// </summary>
    internal Action<int>? BlockGradientsFinished { get; set; }

    /// <summary>
    /// Backward of the last <see cref="Forward"/> on <paramref name="activations"/> (a training arena): adds ∂L/∂θ to
    /// <see cref="Gradients"/> given ∂L/∂logits of every row. The gradients accumulate, so micro-batches add up; call
    /// <see cref="ZeroGradients"/> before a step's first one.
    /// </summary>
    /// <param name="activations">The arena the forward pass wrote.</param>
    /// <param name="dLogits">
    /// [batch·tokens, PaddedVocab] ∂L/∂logits, zero on the padding columns; may be the returned logits overwritten in place.
    /// </param>
    public void Backward(GptActivations activations, Tensor<float> dLogits)
    {
        var a = activations;
        CheckActivations(a);
        var g = RequireGradients();
        if (!a.Training) throw new InvalidOperationException("Backward needs a training arena (CreateActivations with training: true).");
        var record = a.LastForward ?? throw new InvalidOperationException("Backward needs a Forward pass on these activations first.");
        int n = a.Rows, d = Config.Hidden;
        Check.Count(dLogits, (long)n * Config.PaddedVocab, nameof(dLogits));
        var p = Parameters;

        // head: logits = LN_f(x_L)·Wᵀ (W = wte when tied: its gradient lands in wte's)
        _k.LinearBackward(dLogits, a.FinalNorm, p.PaddedHeadWeight, a.DNorm, g.PaddedHeadWeight, null, n, d, Config.PaddedVocab,
            accumulateInput: false);
        _k.Fill(a.DResidual, 0f, n * d);
        LayerNormWithBiasBackward(a, a.Layers[^1].Output, p.FinalNormWeight, a.FinalMean, a.FinalRstd, g.FinalNormWeight, g.FinalNormBias);

        for (int l = Config.Layers - 1; l >= 0; l--)
        {
            BackwardBlock(a, l, record.Dropout);
            BlockGradientsFinished?.Invoke(l);
        }

        var dEmbedded = a.DResidual;
        if (UsesDropout(record.Dropout))
        {
            _k.DropoutBackward(a.DResidual, a.DWork, n * d, Config.Dropout, record.Dropout.Seed, record.Dropout.EmbeddingStream,
                accumulate: false);
            dEmbedded = a.DWork;
        }
        _k.EmbeddingBackward(record.Ids, dEmbedded, g.TokenEmbedding, n, Config.Vocab, d);
        if (g.PositionEmbedding is { } dWpe)
            _k.EmbeddingBackward(a.Positions, dEmbedded, dWpe, n, Config.Length, d);
    }

    /// <summary>Reverse of <see cref="ForwardBlock"/>: DResidual holds ∂L/∂x_out on entry and ∂L/∂x_in on exit.</summary>
    private void BackwardBlock(GptActivations a, int l, GptDropout dropout)
    {
        var w = Parameters.Blocks[l];
        var gw = Gradients!.Blocks[l];
        var s = a.Layers[l];
        int n = a.Rows, d = Config.Hidden, f = Config.MlpHidden, h = Config.Heads, hd = Config.HeadDim;

        // MLP branch (x_out = x_mid + m): ∂L/∂x_mid starts as ∂L/∂x_out
        var dBranch = BranchGradient(a, dropout, dropout.Stream(l, 1));
        // the projection's input is not kept by the forward: computed again, unless the device kept its copy
        var copies = s.InputCopies;
        if (copies is null) _k.GeluForward(s.MlpHidden, a.MlpActivation, n * f);
        _k.GeluLinearBackward(dBranch, a.MlpActivation, s.MlpHidden, w.MlpProjectionWeight, a.DMlp, gw.MlpProjectionWeight,
            gw.MlpProjectionBias, n, f, d, copies?.MlpDown);
        _k.LinearBackward(a.DMlp, s.Norm2, w.FcWeight, a.DNorm, gw.FcWeight, gw.FcBias, n, d, f, accumulateInput: false, copies?.MlpUp);
        LayerNormWithBiasBackward(a, s.Middle, w.Norm2Weight, s.Mean2, s.Rstd2, gw.Norm2Weight, gw.Norm2Bias);

        // attention branch (x_mid = x_in + o)
        dBranch = BranchGradient(a, dropout, dropout.Stream(l, 0));
        _k.LinearBackward(dBranch, s.Attention, w.ProjectionWeight, a.DNorm, gw.ProjectionWeight, gw.ProjectionBias, n, d, d,
            accumulateInput: false, copies?.AttentionOutput);
        _k.AttentionBackward(a.DNorm, s.Qkv, s.Attention, s.LogSumExp, a.DQkv, a.Batch, a.Tokens, h, hd, causal: true, accumulate: false);
        if (Config.Positions == GptPositions.Rotary)
            _k.RotaryBackward(a.DQkv, _cos, _sin, a.Batch, a.Tokens, h, hd, 0);
        _k.LinearBackward(a.DQkv, s.Norm1, w.QkvWeight, a.DNorm, gw.QkvWeight, gw.QkvBias, n, d, 3 * d, accumulateInput: false,
            copies?.Qkv);
        LayerNormWithBiasBackward(a, s.Input, w.Norm1Weight, s.Mean1, s.Rstd1, gw.Norm1Weight, gw.Norm1Bias);
    }

    /// <summary>∂L/∂(branch before dropout) of x_out = x_in + dropout(branch), given ∂L/∂x_out in DResidual.</summary>
    private Tensor<float> BranchGradient(GptActivations a, GptDropout dropout, ulong stream)
    {
        if (!UsesDropout(dropout)) return a.DResidual;
        int count = a.Rows * Config.Hidden;
        _k.DropoutBackward(a.DResidual, a.DWork, count, Config.Dropout, dropout.Seed, stream, accumulate: false);
        return a.DWork;
    }

    /// <summary>
    /// Reverse of LayerNormWithBias given ∂L/∂output in DNorm: adds the bias and weight gradients and ∂L/∂input to
    /// DResidual (the modulation's backward passes ∂L/∂output through unchanged, its scale being 0; the scale gradient,
    /// the only use of the input it is given, is discarded).
    /// </summary>
    private void LayerNormWithBiasBackward(GptActivations a, Tensor<float> input, Tensor<float> weight, Tensor<float> mean,
        Tensor<float> rstd, Tensor<float> dWeight, Tensor<float> dBias)
    {
        int n = a.Rows, d = Config.Hidden;
        _k.Fill(a.DWork, 0f, n * d);
        _k.Fill(a.DUnusedScale, 0f, d);
        _k.ModulateBackward(a.DNorm, input, _zeros, a.DWork, dBias, a.DUnusedScale, 1, n, d);
        _k.LayerNormBackward(a.DWork, input, weight, mean, rstd, a.DResidual, dWeight, n, d);
    }
}
