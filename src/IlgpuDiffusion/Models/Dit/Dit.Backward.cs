using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

public sealed partial class Dit
{
    /// <summary>
    /// Called with each block's index as soon as a backward pass has finished that block's gradients (last block first), so a
    /// data-parallel trainer can start summing them while the earlier blocks' backward runs; null for none.
    /// </summary>
    internal Action<int>? BlockGradientsFinished { get; set; }

    /// <summary>
    /// Backward of the last <see cref="Forward(DitActivations, Tensor{int}, ReadOnlySpan{float}, Tensor{int}?, int, DitDropout)"/>
    /// on <paramref name="activations"/> (a training arena): adds ∂L/∂θ to <see cref="Gradients"/> given ∂L/∂logits of the
    /// head rows. The gradients accumulate, so micro-batches add up; call <see cref="ZeroGradients"/> before a step's
    /// first one.
    /// </summary>
    /// <param name="activations">The arena the forward pass wrote.</param>
    /// <param name="dLogits">
    /// [headCount, PaddedVocab] ∂L/∂logits of the forward's head rows, zero on the padding columns; may be the returned logits
    /// overwritten in place.
    /// </param>
    public void Backward(DitActivations activations, Tensor<float> dLogits)
    {
        var a = activations;
        CheckActivations(a);
        var dA = RequireTrainingArena(a, "Backward");
        var record = a.LastForward ?? throw new InvalidOperationException("Backward needs a forward pass on these activations first.");
        _k.Fill(dA.Work, 0f, a.Rows * Config.Hidden);
        BackwardHeadRows(a, record.HeadRows, record.HeadCount, dLogits);
        BackwardFromFinal(a, record.Ids, record.Dropout);
    }

    /// <summary>
    /// Backward of the output head for the rows of the last <see cref="ForwardHead"/> after a training
    /// <see cref="ForwardTrunk(DitActivations, Tensor{int}, ReadOnlySpan{float}, DitDropout)"/>: adds the head's weight and bias
    /// gradients and keeps ∂L/∂(those rows' head input) for <see cref="BackwardTrunk"/>. Call it before the next chunk's
    /// <see cref="ForwardHead"/>.
    /// </summary>
    /// <param name="dLogits">
    /// [headCount, PaddedVocab] ∂L/∂logits of that chunk, zero on the padding columns; may be its logits overwritten in place.
    /// </param>
    public void BackwardHead(DitActivations activations, Tensor<float> dLogits)
    {
        CheckActivations(activations);
        RequireTrainingArena(activations, "BackwardHead");
        var record = activations.ChunkedBackward;
        if (record is null || !activations.HeadPending)
            throw new InvalidOperationException("BackwardHead needs a ForwardTrunk pass with dropout settings and a ForwardHead " +
                "pass after it on these activations first.");
        BackwardHeadRows(activations, record.Value.HeadRows, record.Value.HeadCount, dLogits);
        activations.HeadPending = false;
    }

    /// <summary>
    /// Ends a backward in head row chunks: adds ∂L/∂θ of the trunk to <see cref="Gradients"/> from the head chunks'
    /// <see cref="BackwardHead"/> calls since the training
    /// <see cref="ForwardTrunk(DitActivations, Tensor{int}, ReadOnlySpan{float}, DitDropout)"/>.
    /// </summary>
    public void BackwardTrunk(DitActivations activations)
    {
        CheckActivations(activations);
        RequireTrainingArena(activations, "BackwardTrunk");
        var record = activations.ChunkedBackward ?? throw new InvalidOperationException("BackwardTrunk needs a ForwardTrunk " +
            "pass with dropout settings on these activations first.");
        BackwardFromFinal(activations, record.Ids, record.Dropout);
        activations.ChunkedBackward = null;
        activations.HeadPending = false;
    }

    /// <summary>Adds the head's gradients for <paramref name="count"/> rows and their ∂L/∂(final modulated rows) to dA.Work.</summary>
    private void BackwardHeadRows(DitActivations a, Tensor<int>? headRows, int count, Tensor<float> dLogits)
    {
        var g = RequireGradients();
        var dA = a.Gradients!;
        int n = a.Rows, d = Config.Hidden;
        Check.Count(dLogits, (long)count * Config.PaddedVocab, nameof(dLogits));
        var p = Parameters;

        // output head: logits = W_out·h_rows + b_out, h_rows = gather(FinalModulated)
        var dFinal = dA.Work;
        if (headRows is { } rows)
        {
            _k.LinearBackward(dLogits, a.HeadInput, p.PaddedOutputWeight, dA.HeadInput, g.PaddedOutputWeight, g.PaddedOutputBias, count,
                d, Config.PaddedVocab, accumulateInput: false);
            _k.ScatterAddRows(dA.HeadInput, rows, dFinal, count, d, n);
        }
        else
            _k.LinearBackward(dLogits, a.FinalModulated, p.PaddedOutputWeight, dFinal, g.PaddedOutputWeight, g.PaddedOutputBias, n, d,
                Config.PaddedVocab);
    }

    /// <summary>
    /// Backward from ∂L/∂(final modulated rows) in dA.Work through the final adaLN LayerNorm, every block and the embedding.
    /// </summary>
    private void BackwardFromFinal(DitActivations a, Tensor<int> ids, DitDropout dropout)
    {
        var g = RequireGradients();
        var dA = a.Gradients!;
        int n = a.Rows, d = Config.Hidden;
        var (mb, mt) = ModulationShape(a);
        var p = Parameters;
        var dFinal = dA.Work;

        // final adaLN LayerNorm
        _k.Fill(dA.Residual, 0f, n * d);
        var dFinalShift = dA.FinalModulation.Slice(0, a.ConditionRows);
        var dFinalScale = dA.FinalModulation.Slice(a.ConditionRows, a.ConditionRows);
        _k.ModulateBackward(dFinal, a.FinalNorm, a.FinalScale, dA.Norm, dFinalShift, dFinalScale, mb, mt, d, accumulate: false);
        _k.LayerNormBackward(dA.Norm, a.Layers[^1].Output, p.FinalNorm, a.FinalMean, a.FinalRstd, dA.Residual, g.FinalNorm, n, d);

        _k.Fill(dA.Condition, 0f, a.ConditionRows * Config.CondDim);
        AdaBackward(a, dA.FinalModulation, p.FinalAdaWeight, g.FinalAdaWeight, g.FinalAdaBias, 2);
        for (int l = Config.Layers - 1; l >= 0; l--)
        {
            BackwardBlock(a, l, dropout);
            AdaBackward(a, dA.Modulation, p.Blocks[l].AdaWeight, g.Blocks[l].AdaWeight, g.Blocks[l].AdaBias, 6);
            BlockGradientsFinished?.Invoke(l);
        }
        _k.EmbeddingBackward(ids, dA.Residual, g.Embedding, n, Config.Vocab, d);
        BackwardConditioning(a);
    }

    private DitActivationGradients RequireTrainingArena(DitActivations a, string pass)
    {
        RequireGradients();
        return a.Gradients ?? throw new InvalidOperationException($"{pass} needs a training arena " +
            "(CreateActivations with training: true).");
    }

    /// <summary>Reverse of <see cref="ForwardBlock"/>: dA.Residual holds ∂L/∂x_out on entry and ∂L/∂x_in on exit.</summary>
    private void BackwardBlock(DitActivations a, int l, DitDropout dropout)
    {
        var w = Parameters.Blocks[l];
        var gw = Gradients!.Blocks[l];
        var s = a.Layers[l];
        var dA = a.Gradients!;
        int n = a.Rows, d = Config.Hidden, f = Config.MlpHidden, h = Config.Heads, hd = Config.HeadDim, bc = a.ConditionRows;
        var (mb, mt) = ModulationShape(a);
        var dm = dA.Modulation; // [6, Bc, D]: (shift1, scale1, gate1, shift2, scale2, gate2), each written once below

        // MLP branch (x_out = x_mid + g2·m); ∂L/∂x_mid starts as ∂L/∂x_out
        var dBranch = BranchGradient(a, s.MlpBranch, s.Gate2, dm.Slice(5 * bc, bc), BranchDropout(dropout, l, 1));
        // the down projection's input is not kept by the forward: computed again, unless the device kept its copy
        var copies = s.InputCopies;
        if (copies is null) _k.GeluForward(s.MlpHidden, a.MlpActivation, n * f);
        _k.GeluLinearBackward(dBranch, a.MlpActivation, s.MlpHidden, w.Mlp2Weight, dA.Mlp, gw.Mlp2Weight, gw.Mlp2Bias, n, f, d,
            copies?.MlpDown);
        _k.LinearBackward(dA.Mlp, s.Modulated2, w.Mlp0Weight, dA.Work, gw.Mlp0Weight, gw.Mlp0Bias, n, d, f, accumulateInput: false,
            copies?.MlpUp);
        _k.ModulateBackward(dA.Work, s.Norm2, s.Scale2, dA.Norm, dm.Slice(3 * bc, bc), dm.Slice(4 * bc, bc), mb, mt, d,
            accumulate: false);
        _k.LayerNormBackward(dA.Norm, s.Middle, w.Norm2, s.Mean2, s.Rstd2, dA.Residual, gw.Norm2, n, d);

        // attention branch (x_mid = x_in + g1·o)
        dBranch = BranchGradient(a, s.AttentionBranch, s.Gate1, dm.Slice(2 * bc, bc), BranchDropout(dropout, l, 0));
        _k.LinearBackward(dBranch, s.Attention, w.AttnOut, dA.Work, gw.AttnOut, null, n, d, d, accumulateInput: false,
            copies?.AttentionOutput);
        _k.AttentionBackward(dA.Work, s.Qkv, s.Attention, s.LogSumExp, dA.Qkv, a.Batch, a.Tokens, h, hd, causal: false,
            accumulate: false);
        _k.RotaryBackward(dA.Qkv, _cos, _sin, a.Batch, a.Tokens, h, hd, 0);
        if (w.QkNorm is { } qkNorm)
            _k.QkNormBackward(dA.Qkv, qkNorm, s.QkNormalized!.Value, s.QkRstd!.Value, gw.QkNorm!.Value, n, h, hd);
        _k.LinearBackward(dA.Qkv, s.Modulated1, w.AttnQkv, dA.Work, gw.AttnQkv, null, n, d, 3 * d, accumulateInput: false,
            copies?.Qkv);
        _k.ModulateBackward(dA.Work, s.Norm1, s.Scale1, dA.Norm, dm.Slice(0, bc), dm.Slice(bc, bc), mb, mt, d, accumulate: false);
        _k.LayerNormBackward(dA.Norm, s.Input, w.Norm1, s.Mean1, s.Rstd1, dA.Residual, gw.Norm1, n, d);
    }

    /// <summary>
    /// ∂L/∂(branch before dropout) of a gated residual x_out = x_in + gate·dropout(branch), given ∂L/∂x_out in
    /// dA.Residual, in one pass with the dropout's backward; adds ∂L/∂gate to <paramref name="dGate"/>.
    /// </summary>
    private Tensor<float> BranchGradient(DitActivations a, Tensor<float> branch, Tensor<float> gate, Tensor<float> dGate,
        DropoutMask? dropout)
    {
        var dA = a.Gradients!;
        var (mb, mt) = ModulationShape(a);
        _k.GatedResidualBackward(dA.Residual, branch, gate, dA.Branch, dGate, mb, mt, Config.Hidden, accumulate: false, dropout);
        return dA.Branch;
    }

    /// <summary>Reverse of AdaForward: adds the weight and bias gradients and ∂L/∂c.</summary>
    private void AdaBackward(DitActivations a, Tensor<float> dModulation, Tensor<float> weight, Tensor<float> dWeight, Tensor<float> dBias,
        int chunks)
    {
        int bc = a.ConditionRows, d = Config.Hidden, c = Config.CondDim;
        var dCondition = a.Gradients!.Condition;
        if (bc == 1)
            _k.LinearBackward(dModulation, a.Condition, weight, dCondition, dWeight, dBias, 1, c, chunks * d);
        else
            for (int s = 0; s < chunks; s++)
                _k.LinearBackward(dModulation.Slice(s * bc, bc), a.Condition, weight.Slice(s * d, d), dCondition,
                    dWeight.Slice(s * d, d), dBias.Slice(s * d, d), bc, c, d);
    }

    /// <summary>Reverse of ForwardConditioning's MLP: from ∂L/∂c to the sigma_map gradients.</summary>
    private void BackwardConditioning(DitActivations a)
    {
        var dA = a.Gradients!;
        var g = Gradients!;
        var p = Parameters;
        int bc = a.ConditionRows, c = Config.CondDim, f = DitConfig.FrequencyEmbeddingSize;
        _k.Fill(dA.ConditionPre, 0f, bc * c);
        _k.SiluBackward(dA.Condition, a.ConditionPre, dA.ConditionPre, bc * c);
        _k.Fill(dA.SigmaHiddenActivated, 0f, bc * c);
        _k.LinearBackward(dA.ConditionPre, a.SigmaHiddenActivated, p.SigmaWeight2, dA.SigmaHiddenActivated, g.SigmaWeight2, g.SigmaBias2,
            bc, c, c);
        _k.Fill(dA.SigmaHidden, 0f, bc * c);
        _k.SiluBackward(dA.SigmaHiddenActivated, a.SigmaHidden, dA.SigmaHidden, bc * c);
        _k.LinearBackward(dA.SigmaHidden, a.TimestepEmbedding, p.SigmaWeight0, null, g.SigmaWeight0, g.SigmaBias0, bc, f, c);
    }
}
