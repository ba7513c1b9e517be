using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// The MDLM diffusion transformer (docs/algorithms.md §1.2): embedding → adaLN conditioning → blocks (LayerNorm ·
/// weight → modulate → qkv → rotary → bidirectional attention → out → dropout → gated residual;
/// LayerNorm · weight → modulate → MLP GELU-tanh → dropout → gated residual) → final adaLN LayerNorm →
/// output Linear. Built only from <see cref="IKernels"/> calls, so the same code runs on every backend.
/// Parameters (and gradients) live in arenas named as the Hugging Face state dict; activations live in
/// a <see cref="DitActivations"/> made by <see cref="CreateActivations"/>. Forward and backward
/// allocate nothing. The model has no autograd: <see cref="Backward"/> is the explicit reverse of
/// <see cref="Forward(DitActivations, Tensor{int}, ReadOnlySpan{float}, Tensor{int}?, int, DitDropout)"/>.
/// </summary>
public sealed partial class Dit : IDisposable
{
    private readonly IKernels _k;
    private readonly Tensor<float> _cos, _sin; // [Length, D/H/2] each

    /// <summary>Allocates zero parameters (call <see cref="Initialize"/> or load weights) and, when asked, gradients.</summary>
    public Dit(DitConfig config, Device device, bool withGradients = true)
    {
        Config = config.Validate();
        Device = device;
        _k = device.Kernels;
        Parameters = DitParameters.Allocate(config, device);
        Gradients = withGradients ? DitParameters.Allocate(config, device) : null;
        var (cos, sin) = RotaryTables.Create(config.Length, config.HeadDim);
        _cos = device.Upload<float>(cos, new Shape(config.Length, config.HeadDim / 2));
        _sin = device.Upload<float>(sin, new Shape(config.Length, config.HeadDim / 2));
    }

    /// <summary>The model shape.</summary>
    public DitConfig Config { get; }

    /// <summary>Where the tensors live and the kernels run.</summary>
    public Device Device { get; }

    /// <summary>The weights.</summary>
    public DitParameters Parameters { get; }

    /// <summary>Parameter gradients (same layout), accumulated by <see cref="Backward"/>; null for a no-grad model.</summary>
    public DitParameters? Gradients { get; }

    /// <summary>Initializes the weights per docs/algorithms.md §1.3 from <paramref name="seed"/>.</summary>
    public void Initialize(ulong seed) => DitInitializer.Initialize(Parameters, seed);

    /// <summary>Copies the weights of <paramref name="other"/> (same tensor shapes and device), e.g. teacher → student or EMA.</summary>
    public void CopyParametersFrom(Dit other) => Parameters.CopyFrom(other.Parameters);

    /// <summary>Sets every gradient to zero (before a step's first micro-batch).</summary>
    public void ZeroGradients() => RequireGradients().Fill(0f);

    /// <summary>
    /// Allocates activations for batches of <paramref name="batch"/> sequences of <paramref name="tokens"/> ids.
    /// A training arena keeps what <see cref="Backward"/> needs; an inference arena serves eval forwards only.
    /// </summary>
    /// <param name="headCapacity">Most head rows per pass; defaults to every row (batch·tokens).</param>
    public DitActivations CreateActivations(int batch, int tokens, bool training, int? headCapacity = null) =>
        new(Config, Device, batch, tokens, headCapacity ?? TokenRows.Of(batch, tokens), training);

    /// <summary>Eval forward (no dropout) of every row: the raw logits [batch·tokens, PaddedVocab] (before SUBS).</summary>
    /// <param name="activations">From <see cref="CreateActivations"/> with a head capacity of every row.</param>
    /// <param name="ids">[batch, tokens] token ids in [0, V).</param>
    /// <param name="sigma">[batch] noise levels, read only with time conditioning.</param>
    public Tensor<float> Forward(DitActivations activations, Tensor<int> ids, ReadOnlySpan<float> sigma = default) =>
        Forward(activations, ids, sigma, null, 0, DitDropout.Off);

    /// <summary>
    /// Runs the model and returns the raw logits (before SUBS) of the requested rows.
    /// </summary>
    /// <param name="activations">From <see cref="CreateActivations"/>; its batch and tokens fix the shapes.</param>
    /// <param name="ids">[batch, tokens] token ids in [0, V); must stay unchanged until <see cref="Backward"/>.</param>
    /// <param name="sigma">[batch] noise levels, read only with time conditioning (ignored, i.e. zero, otherwise).</param>
    /// <param name="headRows">[headCount] distinct row indices into batch·tokens, or null for every row in order.</param>
    /// <param name="headCount">Rows the head computes (ignored when <paramref name="headRows"/> is null).</param>
    /// <param name="dropout">Training dropout, or <see cref="DitDropout.Off"/>.</param>
    /// <returns>
    /// [headCount, PaddedVocab] logits, a view into <paramref name="activations"/> valid until the next pass; the columns
    /// from Vocab on are the head's padding (<see cref="DitConfig.PaddedVocab"/>).
    /// </returns>
    public Tensor<float> Forward(DitActivations activations, Tensor<int> ids, ReadOnlySpan<float> sigma,
        Tensor<int>? headRows, int headCount, DitDropout dropout)
    {
        CheckActivations(activations);
        HeadRowCount(activations, headRows, headCount); // fail before the trunk runs
        RunTrunk(activations, ids, sigma, dropout);
        var logits = RunHead(activations, headRows, headCount);
        activations.LastForward = new DitActivations.ForwardRecord(ids, headRows, logits.Shape[0], dropout);
        return logits;
    }

    /// <summary>
    /// Eval pass (no dropout) through every block and the final adaLN LayerNorm, without the output head. Until the
    /// next pass on <paramref name="activations"/>, <see cref="ForwardHead"/> then gives the logits of any rows of
    /// this input: the sampler's cache when the tokens did not change.
    /// </summary>
    /// <param name="ids">[batch, tokens] token ids in [0, V).</param>
    /// <param name="sigma">[batch] noise levels, read only with time conditioning.</param>
    public void ForwardTrunk(DitActivations activations, Tensor<int> ids, ReadOnlySpan<float> sigma = default) =>
        ForwardTrunk(activations, ids, sigma, DitDropout.Off);

    /// <summary>
    /// Pass through every block and the final adaLN LayerNorm, without the output head; <see cref="ForwardHead"/> then
    /// gives the logits of any rows of this input. On a training arena it starts a backward in head row chunks: per chunk
    /// <see cref="ForwardHead"/>, then <see cref="BackwardHead"/> with ∂L/∂(its logits); after the last chunk
    /// <see cref="BackwardTrunk"/>. The logits then take the arena's head capacity of rows, however many rows the loss
    /// covers.
    /// </summary>
    /// <param name="ids">[batch, tokens] token ids in [0, V); must stay unchanged until <see cref="BackwardTrunk"/>.</param>
    /// <param name="sigma">[batch] noise levels, read only with time conditioning.</param>
    /// <param name="dropout">Training dropout, or <see cref="DitDropout.Off"/>.</param>
    public void ForwardTrunk(DitActivations activations, Tensor<int> ids, ReadOnlySpan<float> sigma, DitDropout dropout)
    {
        RunTrunk(activations, ids, sigma, dropout);
        if (activations.Gradients is not { } dA) return;
        _k.Fill(dA.Work, 0f, activations.Rows * Config.Hidden); // ∂L/∂(final modulated rows), summed over head chunks
        activations.ChunkedBackward = new DitActivations.ForwardRecord(ids, null, 0, dropout);
    }

    /// <summary>
    /// The output head on rows of the last <see cref="ForwardTrunk(DitActivations, Tensor{int}, ReadOnlySpan{float}, DitDropout)"/>
    /// input: raw logits before SUBS.
    /// </summary>
    /// <param name="headRows">[headCount] distinct row indices into batch·tokens, or null for every row in order.</param>
    /// <returns>
    /// [headCount, PaddedVocab] logits, a view into <paramref name="activations"/> valid until the next pass; the columns
    /// from Vocab on are the head's padding (<see cref="DitConfig.PaddedVocab"/>).
    /// </returns>
    /// <exception cref="InvalidOperationException">No trunk pass ran on these activations since the last
    /// head-and-backward forward.</exception>
    public Tensor<float> ForwardHead(DitActivations activations, Tensor<int>? headRows, int headCount)
    {
        CheckActivations(activations);
        if (!activations.TrunkReady || activations.LastForward is not null)
            throw new InvalidOperationException("ForwardHead needs a ForwardTrunk pass on these activations first.");
        var logits = RunHead(activations, headRows, headCount);
        if (activations.ChunkedBackward is { } record)
        {
            activations.ChunkedBackward = record with { HeadRows = headRows, HeadCount = logits.Shape[0] };
            activations.HeadPending = true;
        }
        return logits;
    }

    private void RunTrunk(DitActivations a, Tensor<int> ids, ReadOnlySpan<float> sigma, DitDropout dropout)
    {
        CheckActivations(a);
        int n = a.Rows, d = Config.Hidden;
        if (dropout.Enabled && !a.Training)
            throw new InvalidOperationException("Dropout is for training; an inference arena runs eval forwards only.");
        dropout.Validate(Config.Layers);
        Check.Count(ids, n, nameof(ids));
        a.LastForward = null;
        a.ChunkedBackward = null;
        a.HeadPending = false;
        a.TrunkReady = false;

        ForwardConditioning(a, sigma);
        _k.EmbeddingForward(ids, Parameters.Embedding, a.Embedded, n, Config.Vocab, d);
        for (int l = 0; l < Config.Layers; l++)
            ForwardBlock(a, l, dropout);

        var x = a.Layers[^1].Output;
        var (mb, mt) = ModulationShape(a);
        _k.LayerNormModulateForward(x, Parameters.FinalNorm, a.FinalShift, a.FinalScale, Kept(a, a.FinalNorm), a.FinalModulated,
            a.FinalMean, a.FinalRstd, mb, mt, d, DitConfig.LayerNormEpsilon);
        a.TrunkReady = true;
    }

    /// <summary>logits = Linear(final modulated rows): all rows, or the gathered <paramref name="headRows"/>.</summary>
    private Tensor<float> RunHead(DitActivations a, Tensor<int>? headRows, int headCount)
    {
        int n = a.Rows, d = Config.Hidden, count = HeadRowCount(a, headRows, headCount);
        var headInput = a.FinalModulated;
        if (headRows is { } rows)
        {
            _k.GatherRows(a.FinalModulated, rows, a.HeadInput, count, d, n);
            headInput = a.HeadInput;
        }
        var logits = a.Logits.Slice(0, count);
        _k.LinearForward(headInput, Parameters.PaddedOutputWeight, Parameters.PaddedOutputBias, logits, count, d, Config.PaddedVocab);
        return logits;
    }

    private static int HeadRowCount(DitActivations a, Tensor<int>? headRows, int headCount)
    {
        int count = headRows is null ? a.Rows : headCount;
        if (count < 0 || count > a.HeadCapacity)
            throw new ArgumentOutOfRangeException(nameof(headCount), $"Head rows must be in [0, {a.HeadCapacity}]; got {count}.");
        return count;
    }

    /// <summary>c = SiLU(mlp.2(SiLU(mlp.0(e(σ))))) and the final layer's adaLN output, Bc rows each.</summary>
    private void ForwardConditioning(DitActivations a, ReadOnlySpan<float> sigma)
    {
        int bc = a.ConditionRows, c = Config.CondDim, f = DitConfig.FrequencyEmbeddingSize;
        if (Config.TimeConditioning)
        {
            if (sigma.Length != a.Batch)
                throw new ArgumentException($"Time conditioning needs one sigma per sequence ({a.Batch}); got {sigma.Length}.",
                    nameof(sigma));
            for (int b = 0; b < a.Batch; b++)
                TimestepEmbeddings.Write(a.TimestepHost.AsSpan(b * f, f), sigma[b]);
            a.TimestepEmbedding.CopyFrom(a.TimestepHost);
        }
        var p = Parameters;
        _k.LinearForward(a.TimestepEmbedding, p.SigmaWeight0, p.SigmaBias0, a.SigmaHidden, bc, f, c);
        _k.SiluForward(a.SigmaHidden, a.SigmaHiddenActivated, bc * c);
        _k.LinearForward(a.SigmaHiddenActivated, p.SigmaWeight2, p.SigmaBias2, a.ConditionPre, bc, c, c);
        _k.SiluForward(a.ConditionPre, a.Condition, bc * c);
        AdaForward(a, p.FinalAdaWeight, p.FinalAdaBias, a.FinalModulation, 2);
    }

    /// <summary>
    /// adaLN Linear into <paramref name="chunks"/> dense [Bc, D] outputs, output [chunks, Bc, D]. With one
    /// conditioning row, [1, chunks·D] is that layout already: one Linear; otherwise one Linear per chunk of weight rows.
    /// </summary>
    private void AdaForward(DitActivations a, Tensor<float> weight, Tensor<float> bias, Tensor<float> output, int chunks)
    {
        int bc = a.ConditionRows, d = Config.Hidden, c = Config.CondDim;
        if (bc == 1)
            _k.LinearForward(a.Condition, weight, bias, output, 1, c, chunks * d);
        else
            for (int s = 0; s < chunks; s++)
                _k.LinearForward(a.Condition, weight.Slice(s * d, d), bias.Slice(s * d, d), output.Slice(s * bc, bc), bc, c, d);
    }

    private void ForwardBlock(DitActivations a, int l, DitDropout dropout)
    {
        var w = Parameters.Blocks[l];
        var s = a.Layers[l];
        int n = a.Rows, d = Config.Hidden, h = Config.Heads, hd = Config.HeadDim;
        var (mb, mt) = ModulationShape(a);
        float eps = DitConfig.LayerNormEpsilon;

        // (shift1, scale1, gate1, shift2, scale2, gate2) = adaLN(c), just before use: inference arenas share the buffer
        AdaForward(a, w.AdaWeight, w.AdaBias, s.Modulation, 6);

        // attention branch: x_mid = x + g1·dropout(Wo·attn(rope([qk-norm](Wqkv·(LN(x)·w1·(1+sc1)+sh1)))))
        _k.LayerNormModulateForward(s.Input, w.Norm1, s.Shift1, s.Scale1, Kept(a, s.Norm1), s.Modulated1, s.Mean1, s.Rstd1, mb, mt,
            d, eps);
        _k.LinearForward(s.Modulated1, w.AttnQkv, null, s.Qkv, n, d, 3 * d, s.InputCopies?.Qkv);
        if (w.QkNorm is { } qkNorm)
            _k.QkNormForward(s.Qkv, qkNorm, s.QkNormalized!.Value, s.QkRstd!.Value, n, h, hd, eps);
        _k.RotaryForward(s.Qkv, _cos, _sin, a.Batch, a.Tokens, h, hd, 0);
        _k.AttentionForward(s.Qkv, s.Attention, s.LogSumExp, a.Batch, a.Tokens, h, hd, causal: false);
        _k.LinearForward(s.Attention, w.AttnOut, null, s.AttentionBranch, n, d, d, s.InputCopies?.AttentionOutput);
        _k.GatedResidualForward(s.Input, s.AttentionBranch, s.Gate1, s.Middle, mb, mt, d, BranchDropout(dropout, l, 0));

        // MLP branch: x_out = x_mid + g2·dropout(W2·GELU(W1·(LN(x_mid)·w2·(1+sc2)+sh2) + b1) + b2)
        _k.LayerNormModulateForward(s.Middle, w.Norm2, s.Shift2, s.Scale2, Kept(a, s.Norm2), s.Modulated2, s.Mean2, s.Rstd2, mb, mt,
            d, eps);
        _k.LinearGeluForward(s.Modulated2, w.Mlp0Weight, w.Mlp0Bias, Kept(a, s.MlpHidden), a.MlpActivation, n, d, Config.MlpHidden,
            s.InputCopies?.MlpUp, s.InputCopies?.MlpDown); // on a device that keeps copies, the activation's copy only
        _k.LinearForward(a.MlpActivation, w.Mlp2Weight, w.Mlp2Bias, s.MlpBranch, n, Config.MlpHidden, d, s.InputCopies?.MlpDown,
            inputCopyMade: true);
        _k.GatedResidualForward(s.Middle, s.MlpBranch, s.Gate2, s.Output, mb, mt, d, BranchDropout(dropout, l, 1));
    }

    /// <summary>
    /// Where an intermediate the backward reads is kept (training arenas): LayerNorm's rows, the MLP's pre-activation;
    /// inference needs only what follows from them.
    /// </summary>
    private static Tensor<float>? Kept(DitActivations a, Tensor<float> normalized) => a.Training ? normalized : null;

    /// <summary>(batch, tokens) of the modulation kernels: one conditioning row covers all N rows without time conditioning.</summary>
    private static (int Batch, int Tokens) ModulationShape(DitActivations a) =>
        a.ConditionRows == 1 ? (1, a.Rows) : (a.Batch, a.Tokens);

    private bool UsesDropout(DitDropout dropout) => dropout.Enabled && Config.Dropout > 0f;

    /// <summary>The dropout of block <paramref name="layer"/>'s branch <paramref name="site"/> (0 attention, 1 MLP), or null.</summary>
    private DropoutMask? BranchDropout(DitDropout dropout, int layer, int site) =>
        UsesDropout(dropout) ? new DropoutMask(Config.Dropout, dropout.Seed, dropout.Stream(layer, site)) : null;

    private void CheckActivations(DitActivations a)
    {
        if (a.Config != Config)
            throw new ArgumentException($"These activations were made for {a.Config}, not {Config}.", nameof(a));
    }

    private DitParameters RequireGradients() =>
        Gradients ?? throw new InvalidOperationException("This model was created without gradients (withGradients: false).");

    /// <summary>Frees parameters, gradients and rotary tables.</summary>
    public void Dispose()
    {
        Parameters.Dispose();
        Gradients?.Dispose();
        _cos.Buffer.Dispose();
        _sin.Buffer.Dispose();
    }
}
